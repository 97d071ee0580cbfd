"""Every module of console pages. Importing a module attaches its routes to the one blueprint
(console/blueprint.py); the app factory registers `blueprints` from here."""
from console import (
                     dashboard,
                     distribution,
                     imports,
                     integrations,
                     operations,
                     people,
                     program,
                     program_coupons,
                     program_mall,
                     program_rules,
                     program_tiers,
                     views,
)
from console.blueprint import blp

ROUTE_MODULES = [views, dashboard, people, operations, program, program_tiers, program_rules, program_coupons,
                 program_mall, distribution, integrations, imports]
blueprints = [blp]
