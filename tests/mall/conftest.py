"""Every mall test has the stores S1 and S2: a pickup redemption names the store it is collected at."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def stores(stores):
    return stores
