"""CPU and SQL statements per till purchase, in process (prints figures; not a test).

Drives POST /api/v1/pos/purchases through the Flask test client (routing, JWT, marshmallow, the service,
JSON) against PostgreSQL in production mode, one request at a time, and reports per purchase the CPU time of
this process (`time.process_time`: excludes PostgreSQL's own CPU and waiting), the wall time and the number
of SQL statements. `PROFILE=1` adds a cProfile of the same loop (top functions by cumulative time).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/10 \\
      .venv/bin/python bench/purchase_cpu.py        # knobs: MEMBERS=2000 N=1000 PROFILE=0 SKIP=setup

It drops and recreates the schema of BENCH_DATABASE_URL (unless SKIP=setup), like bench/purchases.py.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEMBERS", "2000")

from bench.purchases import setup_data  # noqa: E402  (sets the production environment)

N = int(os.environ.get("N", "1000"))
PROFILE = os.environ.get("PROFILE", "0") == "1"


def main() -> None:
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    token, skus = setup_data()
    members = int(os.environ["MEMBERS"])
    app = create_app("production")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    statements = {"n": 0}
    run = f"cpu{int(time.time())}"
    rng = random.Random(7)

    def body(i: int) -> dict:
        picked = rng.sample(skus, 3)
        items = [{"sku": sku, "qty": rng.randint(1, 3)} for sku, _ in picked]
        paid = sum(price * item["qty"] for (_, price), item in zip(picked, items, strict=True))
        return {"order_no": f"{run}-{i}", "member_id": rng.randint(1, members), "items": items, "paid": paid}

    with app.app_context():
        def count(*args, **kwargs) -> None:
            statements["n"] += 1

        event.listen(db.engine, "before_cursor_execute", count)

        def one(i: int) -> tuple[float, float, int]:
            request = body(i)
            before, cpu, wall = statements["n"], time.process_time(), time.perf_counter()
            response = client.post("/api/v1/pos/purchases", json=request, headers=headers)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert response.status_code == 201, response.get_json()
            return cpu * 1000, wall * 1000, statements["n"] - before

        for i in range(100):  # warm-up: imports, pools, caches
            one(-i - 1)
        results = [one(i) for i in range(N)]
        cpus, walls, counts = zip(*results, strict=True)
        q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
        print(f"load average {os.getloadavg()}; {N} purchases, 3 lines each, one at a time, in process")
        print(f"CPU per purchase: mean {statistics.mean(cpus):.2f} ms, p50 {q(cpus, 50):.2f} ms, "
              f"p99 {q(cpus, 99):.2f} ms")
        print(f"wall per purchase: mean {statistics.mean(walls):.2f} ms, p50 {q(walls, 50):.2f} ms")
        print(f"SQL statements per purchase: min {min(counts)}, mean {statistics.mean(counts):.1f}, max {max(counts)}")
        if PROFILE:
            profiler = cProfile.Profile(time.process_time)  # CPU of this process, not waits
            profiler.enable()
            for i in range(N, N + 300):
                one(i)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
            pstats.Stats(profiler, stream=out).print_callees("_write_purchase|purchases.py:.*record")
            print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
            print(out.getvalue())


if __name__ == "__main__":
    main()
