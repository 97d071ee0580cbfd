"""Targeted coupon issue to N members (default 100k) on a real database: prints the time and rows/s.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> python bench/coupons_issue.py [N]

The database's tables are dropped and recreated: use a scratch database.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import insert, text  # noqa: E402

from app.extensions import db  # noqa: E402
from coupons import templates  # noqa: E402
from coupons.models import Coupon  # noqa: E402
from coupons.schemas import TemplateIn  # noqa: E402
from marketing import issues  # noqa: E402
from members.models import Member  # noqa: E402
from server import create_app  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = os.environ["BENCH_DATABASE_URL"]
    overrides = {"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
                 "DEMO_DIR": tempfile.mkdtemp()}
    app = create_app("test", overrides)
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        for start in range(0, count, 10_000):
            chunk = range(start, min(count, start + 10_000))
            db.session.execute(insert(Member), [{"invite_code": f"B{i:09d}"} for i in chunk])
        db.session.commit()
        spec = {"code": "BENCH", "title": "bench", "kind": "amount_off", "amount_off": 1000, "threshold": 5000,
                "validity": {"kind": "relative", "days": 30}}
        template = templates.create_template(TemplateIn().load(spec))
        issue, _ = issues.create_issue(template.id, {"all_members": True}, "bench", None)
        started = time.perf_counter()
        counts = issues.run_issue(issue.id)
        elapsed = time.perf_counter() - started
        assert db.session.query(Coupon).count() == count
        started = time.perf_counter()
        rerun_issue = db.session.get(type(issue), issue.id)
        rerun_issue.state, rerun_issue.last_member_id = "running", 0
        db.session.commit()
        rerun = issues.run_issue(issue.id)
        rerun_elapsed = time.perf_counter() - started
        print(f"issue to {count} members: {counts} in {elapsed:.1f} s ({count / elapsed:.0f} coupons/s)")
        print(f"re-run (all skipped): {rerun} in {rerun_elapsed:.1f} s")
        if not os.environ.get("BENCH_KEEP"):
            db.drop_all()
            db.session.commit()


if __name__ == "__main__":
    main()
