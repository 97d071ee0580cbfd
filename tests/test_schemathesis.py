"""Schemathesis against the app, one run per caller: the shopper (member token), store staff and marketing.

Every operation the caller may call (its `Caller:` line in the document; public ones too) gets generated requests
on the demo program, valid ones (positive) and invalid ones (negative); a run must end with no server error (5xx)
and no answer that breaks the document's schema for its status (errors included: the envelope). Bounded and
deterministic: `SCHEMATHESIS_MAX_EXAMPLES` requests at most per operation and mode (default 8), Hypothesis
derandomized, no example database; raise the bound for a longer hunt:

    SCHEMATHESIS_MAX_EXAMPLES=100 .venv/bin/python -m pytest -q -m schemathesis -s

Nothing is excluded: integers past the 32-bit range, NUL bytes and lone surrogates get their 4xx too
(app/inbound.py, app/fields.py `Id`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.extensions import db
from tests.vip.conftest import wxpay  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Tally:
    operations: int = 0
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # "METHOD path [check]" -> first report


def _caller(operation) -> set[str]:
    """Who may call an operation, from the `Caller: a, b.` line app.auth writes (none: anyone)."""
    description = operation.definition.raw.get("description") or ""
    if not description.startswith("Caller: "):
        return {"anyone"}
    return {role.strip() for role in description[len("Caller: "):].split(".", 1)[0].split(",")}


def _run(app, token: str, roles: set[str]) -> Tally:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        if not _caller(operation) & (roles | {"anyone"}):
            continue
        if operation.path == "/api/v1/pay/notify":
            continue  # WeChat Pay's signed XML callback: covered by tests/vip with real signatures
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(operation, mode, headers, tally)
    return tally


def _exercise(operation, mode, headers: dict, tally: Tally) -> None:
    """Up to MAX_EXAMPLES generated requests to one operation: valid ones (positive) or invalid ones (negative)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=["explicit", "generate"])
    def exercise(case) -> None:
        response = case.call(headers=headers)
        db.session.remove()  # what the end of a request's app context does outside tests (one context here)
        tally.requests += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as failure:  # keep the first report per operation and check
            names = sorted({type(f).__name__ for f in failure.exceptions})
            tally.failures.setdefault(f"{case.operation.label} {mode.value} {names}", str(failure)[:3000])

    try:
        exercise()
    except Unsatisfiable:  # negative mode for an operation with nothing to break (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE


@pytest.fixture
def program(app, request):
    """The demo program without the shoppers' months of history: tiers, products, tasks, templates, mall; WeChat
    Pay on the fake server (`wxpay`), so a VIP order never leaves the machine."""
    import demo

    request.getfixturevalue("wxpay")
    demo.seed(with_history=False)


def _report(role: str, tally: Tally) -> str:
    return (f"schemathesis {role}: {tally.operations} operations, {tally.requests} requests, "
            f"{len(tally.failures)} failures")


@pytest.mark.parametrize("role", ["shopper", "staff", "marketing"])
def test_no_server_error_and_no_schema_violation(app, client, program, role, capsys):
    if role == "shopper":
        login = client.post("/api/v1/auth/wechat-login", json={"code": "test-fuzz"})
        token, roles = login.get_json()["token"], {"member"}
    else:
        username = {"staff": "staff1", "marketing": "marketing"}[role]
        login = client.post("/api/v1/auth/operator-login", json={"username": username, "password": "demo1234"})
        token, roles = login.get_json()["token"], {login.get_json()["operator"]["role"]}
    tally = _run(app, token, roles)
    with capsys.disabled():
        print("\n" + _report(role, tally))
    assert tally.requests > tally.operations
    assert not tally.failures, _report(role, tally) + "\n\n" + "\n\n".join(
        f"== {name}\n{report}" for name, report in tally.failures.items())
