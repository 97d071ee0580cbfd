"""The program-wide points policy marketing edits (one row): earning rate, expiry, return window, deduction."""
from __future__ import annotations

from app.audit import service as audit
from app.extensions import db
from points import ledger
from points.models import PointsPolicy

FIELDS = ("points_per_yuan", "expiry_kind", "expiry_months", "expiry_years", "pending_days",
          "points_per_yuan_value", "max_deduction_percent")


def as_dict(policy: PointsPolicy) -> dict:
    return {name: getattr(policy, name) for name in FIELDS} | {"updated_at": policy.updated_at}


def get() -> dict:
    policy = ledger.get_policy()
    db.session.commit()  # the first read creates the default row
    return as_dict(policy)


def update(values: dict) -> dict:
    """Replace the whole policy (PUT); ranges are checked by the schema, the audit row keeps before/after."""
    policy = ledger.get_policy()
    before = {name: getattr(policy, name) for name in FIELDS}
    for name in FIELDS:
        setattr(policy, name, values[name])
    audit.record("points_policy.update", "points_policy", policy.id, before,
                 {name: getattr(policy, name) for name in FIELDS})
    db.session.commit()
    return as_dict(policy)
