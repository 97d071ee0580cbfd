"""Every module of console pages. Importing a module attaches its routes to the one blueprint
(console/blueprint.py); the app factory registers `blueprints` from here."""
from console import imports, views
from console.blueprint import blp

ROUTE_MODULES = [views, imports]
blueprints = [blp]
