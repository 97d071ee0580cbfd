"""RQ entry point of the members domain (thin: counts out)."""
from __future__ import annotations

from app.jobs import run_job
from members import member_code


def purge_consumed_member_codes() -> dict:
    """Daily: forget the member codes used more than a day ago (no replay is possible past their minute)."""
    return run_job("purge_consumed_member_codes", member_code.purge_consumed)
