"""Writing import files and running the CLI import for the onboarding tests."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from members.models import Member
from points.models import LedgerEntry, PointsAccount

HEADER = ["external_id", "phone", "unionid", "openid", "name", "birthday", "gender", "tier", "growth", "points",
          "vip_until", "tags", "source_channel", "joined_at"]


def write_csv(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
                            for row in rows), encoding="utf-8")
    return path


def run_cli(app, path: Path, *args: str):
    result = app.test_cli_runner().invoke(args=["import", "members", str(path), *args])
    db.session.rollback()  # the CLI committed through this app context's session; read afresh
    return result


def member(external_id: str) -> Member | None:
    return db.session.scalar(select(Member).where(Member.external_id == external_id))


def balance(member_id: int) -> int:
    account = db.session.get(PointsAccount, member_id)
    return 0 if account is None else account.balance


def imported_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Member).where(Member.external_id.is_not(None)))


def opening_points() -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                                 .where(LedgerEntry.kind == "opening")))
