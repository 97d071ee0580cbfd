"""How fast the birthday job grants: N members with today's birthday, one run, then a re-run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_x python bench/bench_birthdays.py 20000

It drops and recreates the tables of the database it is given: never point it at real data.
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402


def main(count: int) -> None:
    app = create_app("embedded")
    with app.app_context():
        from members import demo
        from members.models import Member
        from members.tiers import service

        db.drop_all()
        db.create_all()
        demo.seed()
        entry = demo.Tier.query.filter_by(code="normal").one()
        db.session.execute(db.insert(Member), [
            {"invite_code": f"B{i:09d}", "tier_id": entry.id, "birthday": date(1990, 5, 20), "growth": 0}
            for i in range(count)
        ])
        db.session.commit()
        started = time.perf_counter()
        counts = service.grant_birthday_gifts(date(2026, 5, 20))
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = service.grant_birthday_gifts(date(2026, 5, 20))
        second = time.perf_counter() - started
        print(f"{db.engine.dialect.name}: {count} members: first run {first:.1f}s ({count / first:.0f}/s) {counts}; "
              f"re-run {second:.1f}s ({count / second:.0f}/s) {again}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
