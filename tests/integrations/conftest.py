"""The points tests' catalogue and shopper, for calls at the till made with API keys."""
from tests.points.conftest import catalogue, give, shopper  # noqa: F401 - fixtures

