"""What one poll of a targeted issue's progress bar costs (marketing.issues.progress: one COUNT of the
audience's members the job has not reached yet), on a real database, at the start, half-way and near the end.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> python bench/issue_progress.py [N]

N members (default 200,000), every other one tagged 咖啡重度; an issue to that tag. The console polls every
2 seconds per open progress page; the ceiling printed is 50 ms of CPU per poll (2.5 % of a core per open page).
Figures are CPU time: this process's (time.process_time) and the PostgreSQL backend's (utime + stime of its
process, read from /proc on this machine). The database's tables are dropped and recreated: use a scratch
database.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import insert, text, update  # noqa: E402

from app.extensions import db  # noqa: E402
from coupons import templates  # noqa: E402
from coupons.models import CouponIssue  # noqa: E402
from coupons.schemas import TemplateIn  # noqa: E402
from marketing import issues  # noqa: E402
from members.models import Member, MemberTag  # noqa: E402
from server import create_app  # noqa: E402

TAG = "咖啡重度"
POLLS = 20
CEILING_MS = 50.0


def _backend_cpu(pid: int) -> float:
    """Seconds of CPU the PostgreSQL backend `pid` has used (same machine only)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(count: int) -> None:
    for start in range(1, count + 1, 10_000):
        chunk = range(start, min(count + 1, start + 10_000))
        db.session.execute(insert(Member), [{"id": i, "invite_code": f"B{i:09d}"} for i in chunk])
        db.session.execute(insert(MemberTag), [{"member_id": i, "tag": TAG, "source": "manual"}
                                               for i in chunk if i % 2 == 0])
    db.session.commit()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    url = os.environ["BENCH_DATABASE_URL"]
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
                              "DEMO_DIR": tempfile.mkdtemp()})
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        _load(count)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        template = templates.create_template(TemplateIn().load({
            "code": "BENCH", "title": "bench", "kind": "amount_off", "amount_off": 1000, "threshold": 5000,
            "validity": {"kind": "relative", "days": 30}}))
        issue, _ = issues.create_issue(template.id, {"tags": [TAG]}, "bench", None)
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        print(f"{count:,} members, {count // 2:,} tagged {TAG}; {POLLS} polls at each point; ceiling "
              f"{CEILING_MS:.0f} ms CPU per poll")
        print(f"{'job at member':>14} {'remaining':>10} {'app ms/poll':>12} {'PostgreSQL ms/poll':>19}")
        for passed in (0, count // 2, count - 1000):
            db.session.execute(update(CouponIssue).where(CouponIssue.id == issue.id)
                               .values(last_member_id=passed, state="running"))
            db.session.commit()
            issues.progress(db.session.get(CouponIssue, issue.id))  # warm the plan cache
            app_start, pg_start = time.process_time(), _backend_cpu(pid)
            for _ in range(POLLS):
                db.session.expire_all()
                answer = issues.progress(db.session.get(CouponIssue, issue.id))
                db.session.rollback()
            app_ms = (time.process_time() - app_start) * 1000 / POLLS
            pg_ms = (_backend_cpu(pid) - pg_start) * 1000 / POLLS
            verdict = "under" if app_ms + pg_ms <= CEILING_MS else "OVER"
            print(f"{passed:>14,} {answer['remaining']:>10,} {app_ms:>12.1f} {pg_ms:>19.1f}  {verdict} the ceiling")
        if not os.environ.get("BENCH_KEEP"):
            db.drop_all()
            db.session.commit()


if __name__ == "__main__":
    main()
