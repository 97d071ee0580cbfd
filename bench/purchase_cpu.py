"""CPU per till purchase, in process, side by side with the ceiling (prints figures; not a test).

The till's real flow, one request at a time through the Flask test client in production mode against
PostgreSQL: a quote, then the purchase of what it priced, on the same connection (a quote used to end with
a ROLLBACK, after which psycopg 3 deallocates every prepared statement: a bench that ran all quotes first
never saw it). A WeChat template for "points credited" is configured, so each purchase also records its
message. Three kinds of request, in alternating blocks so that a change of load on this shared machine hits
them alike:
- first purchase: the member's first (it also pays the demo's first-purchase task: a points reward);
- repeat purchase: a member who bought before;
- ceiling: bench/ceiling.py through its own test client (one UPDATE + one INSERT, raw SQL, one transaction);
- floor: bench/ceiling.py's `/floor`, what a repeat purchase reads and writes, in raw psycopg with prepared
  statements and two pipelined round trips: the cost of the rows themselves.

Per request: this process's CPU (`time.process_time`) and the CPU of the PostgreSQL backends serving this
process's connections (their /proc/<pid>/stat, read around each request: ticks of 10 ms, whose sum over a
block is exact to a tick), the SQL statements and the wall time. The figures are medians over the blocks.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/10 \\
      .venv/bin/python bench/purchase_cpu.py   # MEMBERS=3000 BLOCKS=7 PER_BLOCK=60 PROFILE=0 COMPARE_PIPELINE=0

`PROFILE=1` adds a cProfile (CPU timer) of 300 repeat purchases (the purchase requests only);
`COMPARE_PIPELINE=1` adds first and repeat purchases with every statement answered at once (app.pipeline off).
It drops and recreates the schema of BENCH_DATABASE_URL, like bench/purchases.py.
"""
from __future__ import annotations

import contextlib
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
os.environ.setdefault("MEMBERS", "3000")
os.environ.setdefault("WECHAT_TEMPLATE_POINTS_CREDITED", "bench-tpl-points-credited")

from bench.purchases import setup_data  # noqa: E402  (sets the production environment)

BLOCKS = int(os.environ.get("BLOCKS", "7"))
PER_BLOCK = int(os.environ.get("PER_BLOCK", "60"))
PROFILE = os.environ.get("PROFILE", "0") == "1"
COMPARE_PIPELINE = os.environ.get("COMPARE_PIPELINE", "0") == "1"
NO_PIPELINE = ", no pipeline"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


class Backends:
    """The PostgreSQL backends of this process's connections (each engine's new connection adds its pid)."""

    def __init__(self) -> None:
        self.pids: set[int] = set()

    def watch(self, engine) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _pid(dbapi_connection, record) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids.add(cursor.fetchone()[0])
            dbapi_connection.commit()

    def cpu_ms(self) -> float:
        from bench import ceiling

        self.pids.update(conn.info.backend_pid for conn in ceiling.connections)
        ticks = 0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:  # the connection was closed
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks * TICK_MS


class Tally:
    """Per kind of request: CPU of this process and of PostgreSQL, statements, wall; one list per block."""

    def __init__(self, backends: Backends, statements: dict) -> None:
        self.backends, self.statements = backends, statements
        self.blocks: dict[str, list[dict]] = {}

    def run(self, kind: str, call: Callable[[], None], block: dict) -> None:
        n, pg = self.statements["n"], self.backends.cpu_ms()
        cpu, wall = time.process_time(), time.perf_counter()
        call()
        block["app"] += (time.process_time() - cpu) * 1000
        block["wall"].append((time.perf_counter() - wall) * 1000)
        block["pg"] += self.backends.cpu_ms() - pg
        block["sql"] += self.statements["n"] - n
        block["count"] += 1

    def block(self, kind: str) -> dict:
        block = {"app": 0.0, "pg": 0.0, "sql": 0, "count": 0, "wall": []}
        self.blocks.setdefault(kind, []).append(block)
        return block

    def median(self, kind: str, what: str) -> float:
        return statistics.median(b[what] / b["count"] for b in self.blocks[kind])

    def line(self, kind: str, ceiling: float | None) -> str:
        app, pg = self.median(kind, "app"), self.median(kind, "pg")
        walls = sorted(w for b in self.blocks[kind] for w in b["wall"])
        share = f" | {(app + pg) / ceiling:4.2f}x the ceiling" if ceiling else ""
        sql = self.median(kind, "sql")
        return (f"{kind:34s} app CPU {app:5.2f} ms | PostgreSQL CPU {pg:5.2f} ms | total {app + pg:5.2f} ms"
                f"{share} | SQL {f'{sql:4.1f}' if sql else 'raw'} | wall p50 {walls[len(walls) // 2]:5.2f} ms")


def main() -> None:
    from sqlalchemy import event, text

    from app import pipeline
    from app.extensions import db
    from app.operators.models import Operator
    from bench import ceiling
    from server import create_app
    from till.models import EarnRule

    token, skus = setup_data()
    pipelined = pipeline.pipelined
    members = int(os.environ["MEMBERS"])
    app = create_app("production")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    ceiling_client = ceiling.app.test_client()
    statements = {"n": 0}
    backends = Backends()
    tally = Tally(backends, statements)
    run = f"cpu{int(time.time())}"
    rng = random.Random(7)
    counter = iter(range(10**9))

    def quote_call(member_id: int, box: dict) -> Callable[[], None]:
        def call() -> None:
            picked = rng.sample(skus, 3)
            box["items"] = [{"sku": sku, "qty": rng.randint(1, 3)} for sku, _ in picked]
            response = client.post("/api/v1/pos/quote", json={"member_id": member_id, "items": box["items"]},
                                   headers=headers)
            assert response.status_code == 200, response.get_json()
            box["paid"] = response.get_json()["payable"]
        return call

    def purchase_call(member_id: int, box: dict) -> Callable[[], None]:
        def call() -> None:
            response = client.post("/api/v1/pos/purchases", headers=headers, json={
                "order_no": f"{run}-{next(counter)}", "member_id": member_id, "items": box["items"],
                "paid": box["paid"]})
            assert response.status_code == 201, response.get_json()
        return call

    floor_ids: dict = {}

    def floor_call() -> None:
        lines = [[sku, rng.randint(1, 3), price] for sku, price in rng.sample(skus, 3)]
        response = ceiling_client.post("/floor", json={
            "member_id": rng.choice(bought), "order_no": f"{run}-{next(counter)}", "lines": lines, **floor_ids})
        assert response.status_code == 201, response.get_json()

    def ceiling_call() -> None:
        response = ceiling_client.post("/ceiling", json={"member_id": rng.randint(1, members),
                                                        "order_no": f"{run}c{next(counter)}"})
        assert response.status_code == 201

    def flow(kind: str, member_ids: list[int]) -> None:
        quotes, buys = tally.block(f"quote before a {kind}"), tally.block(kind)
        if kind.endswith(NO_PIPELINE):  # the same purchase with every statement answered at once
            pipeline.pipelined = contextlib.nullcontext
        try:
            for member_id in member_ids:
                box: dict = {}
                tally.run("quote", quote_call(member_id, box), quotes)
                tally.run(kind, purchase_call(member_id, box), buys)
        finally:
            pipeline.pipelined = pipelined

    with app.app_context():
        def count(*args, **kwargs) -> None:
            statements["n"] += 1

        for engine in (db.engine, ceiling.engine):
            event.listen(engine, "before_cursor_execute", count)
            backends.watch(engine)
        staff = db.session.scalar(db.select(Operator).where(Operator.username == "staff1"))
        floor_ids.update(operator_id=staff.id, store_id=staff.store_id,
                         rule_id=db.session.scalar(db.select(EarnRule.id).order_by(EarnRule.id)))
        db.session.commit()
        fresh = rng.sample(range(1, members + 1), members)
        bought: list[int] = []

        def firsts(n: int) -> list[int]:
            taken = [fresh.pop() for _ in range(n)]
            bought.extend(taken)
            return taken

        flow("warm-up", firsts(100))  # imports, pools, caches, prepared statements
        for _ in range(100):
            ceiling_call()
            floor_call()
        tally.blocks.clear()
        kinds = ["first purchase", "repeat purchase", "ceiling", "floor"]
        if COMPARE_PIPELINE:
            kinds += [f"first purchase{NO_PIPELINE}", f"repeat purchase{NO_PIPELINE}"]
        for index in range(BLOCKS):
            for kind in kinds[index % len(kinds):] + kinds[:index % len(kinds)]:  # the order rotates by block
                if kind in ("ceiling", "floor"):
                    block = tally.block(kind)
                    for _ in range(PER_BLOCK):
                        tally.run(kind, ceiling_call if kind == "ceiling" else floor_call, block)
                elif kind.startswith("first purchase"):
                    flow(kind, firsts(PER_BLOCK))
                else:
                    flow(kind, rng.sample(bought, PER_BLOCK))
        ceiling_cpu = tally.median("ceiling", "app") + tally.median("ceiling", "pg")
        print(f"load average {os.getloadavg()}; {BLOCKS} blocks of {PER_BLOCK} requests of each kind, one at a "
              f"time, in process; medians of the blocks' means; PostgreSQL backends {sorted(backends.pids)}")
        print(tally.line("ceiling", None))
        print(tally.line("floor", ceiling_cpu))
        for kind in ("first purchase", "repeat purchase"):
            print(tally.line(kind, ceiling_cpu))
            print(tally.line(f"quote before a {kind}", ceiling_cpu))
            if COMPARE_PIPELINE:
                print(tally.line(f"{kind}{NO_PIPELINE}", ceiling_cpu))
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        if PROFILE:
            profiler = cProfile.Profile(time.process_time)
            for member_id in rng.choices(bought, k=300):
                box = {}
                quote_call(member_id, box)()
                profiler.enable()
                purchase_call(member_id, box)()
                profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(70)
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(50)
            print(out.getvalue())


if __name__ == "__main__":
    main()
