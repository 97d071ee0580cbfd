"""CPU and SQL statements per till purchase, in process (prints figures; not a test).

Drives POST /api/v1/pos/purchases through the Flask test client (routing, JWT, marshmallow, the service,
JSON) against PostgreSQL in production mode, one request at a time, and reports per request:
- the CPU time of this process (`time.process_time`: the API's own work, not waiting),
- the CPU time PostgreSQL's processes spent meanwhile (from /proc: the server must run on this machine),
- the wall time and the number of SQL statements,
for three kinds of request: a member's first purchase (it also pays the demo's first-purchase task), a
repeat purchase, and the ceiling of bench/purchases.py (bench/ceiling.py: one UPDATE + one INSERT) through
its own test client. CPU per request does not depend on what else the machine runs, so the ratio of the
sums is the share of the ceiling a CPU-bound till could reach, whatever wrk measures on a busy box.
`PROFILE=1` adds a cProfile of repeat purchases (top functions by cumulative and by own time).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/10 \\
      .venv/bin/python bench/purchase_cpu.py        # knobs: MEMBERS=2000 N=500 PROFILE=0

It drops and recreates the schema of BENCH_DATABASE_URL, like bench/purchases.py.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEMBERS", "2000")

from bench.purchases import setup_data  # noqa: E402  (sets the production environment)

N = int(os.environ.get("N", "500"))
PROFILE = os.environ.get("PROFILE", "0") == "1"


def postgres_cpu_ms() -> float:
    """CPU time (user + system) of every PostgreSQL process on this machine so far."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as handle:
                if not handle.read().startswith("postgres"):
                    continue
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def measure(label: str, calls: list[Callable[[], None]], statements: dict) -> tuple[float, float]:
    """Run the prepared calls one at a time; print and return (app CPU, PostgreSQL CPU) per call in ms.
    PostgreSQL's CPU is read before and after the whole batch (its clock ticks are 10 ms)."""
    cpus, walls, counts = [], [], []
    pg_before = postgres_cpu_ms()
    for call in calls:
        before, cpu, wall = statements["n"], time.process_time(), time.perf_counter()
        call()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        counts.append(statements["n"] - before)
    pg = (postgres_cpu_ms() - pg_before) / len(calls)
    app = statistics.mean(cpus)
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    print(f"{label:16s} app CPU mean {app:5.2f} ms (p50 {q(cpus, 50):5.2f}, p99 {q(cpus, 99):5.2f}) | "
          f"PostgreSQL CPU {pg:4.2f} ms | wall p50 {q(walls, 50):5.2f} ms | "
          f"SQL statements {statistics.mean(counts):4.1f} | total CPU {app + pg:5.2f} ms")
    return app, pg


def main() -> None:
    from sqlalchemy import event, text

    from app.extensions import db
    from bench import ceiling
    from server import create_app

    token, skus = setup_data()
    members = int(os.environ["MEMBERS"])
    app = create_app("production")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    ceiling_client = ceiling.app.test_client()
    statements = {"n": 0}
    run = f"cpu{int(time.time())}"
    rng = random.Random(7)

    def body(member_id: int, order_no: str) -> dict:
        picked = rng.sample(skus, 3)
        items = [{"sku": sku, "qty": rng.randint(1, 3)} for sku, _ in picked]
        quote = client.post("/api/v1/pos/quote", json={"member_id": member_id, "items": items}, headers=headers)
        return {"order_no": order_no, "member_id": member_id, "items": items, "paid": quote.get_json()["payable"]}

    def purchase(request: dict) -> Callable[[], None]:
        def call() -> None:
            response = client.post("/api/v1/pos/purchases", json=request, headers=headers)
            assert response.status_code == 201, response.get_json()
        return call

    def ceiling_call(i: int) -> Callable[[], None]:
        def call() -> None:
            response = ceiling_client.post("/ceiling", json={"member_id": 1 + i % members, "order_no": f"{run}c{i}"})
            assert response.status_code == 201
        return call

    with app.app_context():
        def count(*args, **kwargs) -> None:
            statements["n"] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(ceiling.engine, "before_cursor_execute", count)
        buyers = rng.sample(range(1, members + 1), min(members, N + 100))
        for i, member_id in enumerate(buyers[:100]):  # warm-up: imports, pools, caches, prepared statements
            purchase(body(member_id, f"{run}-w{i}"))()
            ceiling_call(-i - 1)()
        # each member once per batch, so the quotes taken before a batch stay right during it
        measured = buyers[100:]
        firsts = [purchase(body(member_id, f"{run}-f{i}")) for i, member_id in enumerate(measured)]
        first = measure("first purchase", firsts, statements)
        rng.shuffle(measured)
        repeats = [purchase(body(member_id, f"{run}-r{i}")) for i, member_id in enumerate(measured)]
        repeat = measure("repeat purchase", repeats, statements)
        ceil = measure("ceiling", [ceiling_call(i) for i in range(N)], statements)
        print(f"load average {os.getloadavg()}; {N} requests of each kind, one at a time, in process")
        for label, (app_cpu, pg_cpu) in (("first purchases", first), ("repeat purchases", repeat)):
            print(f"CPU-bound share of the ceiling, {label}: {100 * sum(ceil) / (app_cpu + pg_cpu):.0f}% "
                  f"(ceiling {sum(ceil):.2f} ms of CPU per request, purchase {app_cpu + pg_cpu:.2f} ms)")
        db.session.execute(text("SELECT 1"))
        if PROFILE:
            profiler = cProfile.Profile(time.process_time)  # CPU of this process, not waits (the quotes too)
            profiler.enable()
            for i in range(300):
                call = purchase(body(rng.choice(buyers), f"{run}-p{i}"))
                call()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
            print(out.getvalue())


if __name__ == "__main__":
    main()
