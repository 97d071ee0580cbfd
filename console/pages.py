"""Every module of console pages. Importing a module attaches its routes to the one blueprint
(console/blueprint.py); the app factory registers `blueprints` from here."""
from console import dashboard, operations, people, views
from console.blueprint import blp

ROUTE_MODULES = [views, dashboard, people, operations]
blueprints = [blp]
