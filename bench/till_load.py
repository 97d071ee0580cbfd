"""The till under gunicorn: its maximum rate per gunicorn shape, then an open-loop paced load at half of it
(prints figures; not a test).

For each shape (workers x threads) in SHAPES:
1. wrk, closed loop, CONNECTIONS connections for DURATION: POST /api/v1/pos/purchases (bench/purchases.py's
   script: random member of MEMBERS, 3 distinct lines, unique order numbers) gives the maximum rate, and the
   CPU per request of gunicorn's processes and of this database's PostgreSQL backends (/proc);
2. an open-loop paced client (asyncio, keep-alive HTTP/1.1, up to CONNECTIONS requests in flight): requests are
   due at a fixed rate, half the maximum, whether or not earlier ones have answered, and each latency counts
   from when its request was due (no coordinated omission), for PACED seconds: p50, p99, max.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<scratch db> BENCH_REDIS_URL=redis://127.0.0.1:6379/10 \\
      .venv/bin/python bench/till_load.py     # knobs: MEMBERS=20000 SHAPES=2x2,2x4,4x4,8x2 DURATION=15s PACED=20

It drops and recreates the schema of BENCH_DATABASE_URL (bench/purchases.py's set-up).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MEMBERS", "20000")
os.environ.setdefault("WECHAT_TEMPLATE_POINTS_CREDITED", "bench-tpl-points-credited")

import bench.purchases as purchases  # noqa: E402  (sets the production environment)

SHAPES = [tuple(map(int, shape.split("x"))) for shape in os.environ.get("SHAPES", "2x2,2x4,4x4,8x2").split(",")]
PACED = float(os.environ.get("PACED", "20"))
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _group(pgid: int) -> list[int]:
    """The processes of gunicorn's session (the arbiter and its workers)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[3]) == pgid:
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


def _backends(db_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(purchases.DB_URL, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db_name,))]


def cpu_ms(pgid: int, db_name: str) -> tuple[float, float]:
    """CPU so far of gunicorn's processes and of this database's backends (the bench's own connection aside)."""
    return (sum(_ticks(pid) for pid in _group(pgid)) * TICK_MS,
            sum(_ticks(pid) for pid in _backends(db_name)) * TICK_MS)


def bodies(skus: list[tuple[str, int]], n: int, run: str) -> list[bytes]:
    rng = random.Random(run)
    out = []
    for i in range(n):
        picked = rng.sample(skus, 3)
        items = [{"sku": sku, "qty": rng.randint(1, 3)} for sku, _ in picked]
        paid = sum(price * item["qty"] for (_, price), item in zip(picked, items, strict=True))
        out.append(json.dumps({"order_no": f"{run}-{i}", "member_id": rng.randint(1, purchases.MEMBERS),
                               "items": items, "paid": paid}).encode())
    return out


async def paced(rate: float, seconds: float, token: str, payloads: list[bytes], connections: int) -> dict:
    """Requests due every 1/rate s; a due request waits for a free connection (its wait counts)."""
    free: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", purchases.PORT))
    latencies, statuses = [], []
    head = (f"POST /api/v1/pos/purchases HTTP/1.1\r\nHost: till\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n").encode()

    async def exchange(reader, writer, request: bytes) -> int:
        writer.write(request)
        status = int((await reader.readline()).split()[1])  # IndexError: closed before answering
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        return status

    async def one(due: float, payload: bytes) -> None:
        reader, writer = await free.get()
        request = head + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        try:
            status = await exchange(reader, writer, request)
        except (ConnectionError, IndexError, asyncio.IncompleteReadError):
            # gunicorn closed the idle keep-alive connection (after 2 s): reconnect and send again (a replayed
            # order number would get the stored answer, so sending twice is safe)
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", purchases.PORT)
            status = await exchange(reader, writer, request)
        latencies.append((time.perf_counter() - due) * 1000)
        statuses.append(status)
        free.put_nowait((reader, writer))

    start, tasks = time.perf_counter() + 0.1, []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due, payloads[i])))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait()[1].close()
    q = statistics.quantiles(latencies, n=100)
    return {"sent": len(latencies), "p50": q[49], "p99": q[98], "max": max(latencies),
            "non2xx": sum(1 for s in statuses if not 200 <= s < 300)}


def main() -> None:
    token, skus = purchases.setup_data()
    db_name = purchases.DB_URL.rsplit("/", 1)[1]
    print(f"load average {os.getloadavg()}; {purchases.MEMBERS} members, {os.cpu_count()} CPUs shared by the "
          f"load generator, gunicorn and PostgreSQL")
    for workers, threads in SHAPES:
        purchases.WORKERS, purchases.THREADS = str(workers), str(threads)
        proc = purchases.serve("wsgi:app")
        try:
            before, started = cpu_ms(proc.pid, db_name), time.perf_counter()
            closed = purchases.run_wrk("/api/v1/pos/purchases", token, skus)
            after = cpu_ms(proc.pid, db_name)
            served = closed["rps"] * (time.perf_counter() - started)  # warm-up included in both
            rate = closed["rps"] / 2
            run = f"p{workers}x{threads}{int(time.time())}"
            before_paced = cpu_ms(proc.pid, db_name)
            open_loop = asyncio.run(paced(rate, PACED, token, bodies(skus, int(rate * PACED) + 1, run),
                                          purchases.CONNECTIONS))
            after_paced = cpu_ms(proc.pid, db_name)
        finally:
            purchases.stop(proc)
        app_cpu = (after_paced[0] - before_paced[0]) / open_loop["sent"]
        pg_cpu = (after_paced[1] - before_paced[1]) / open_loop["sent"]
        print(f"--workers {workers} --threads {threads}: wrk {purchases.CONNECTIONS} connections "
              f"{closed['rps']:6.1f} req/s p50 {closed['p50']:6.1f} ms p99 {closed['p99']:7.1f} ms "
              f"non-2xx {closed['non2xx']} (CPU/request ~{(after[0] - before[0]) / served:4.1f} + "
              f"{(after[1] - before[1]) / served:4.1f} ms) | paced at {rate:5.1f}/s: p50 {open_loop['p50']:6.1f} ms "
              f"p99 {open_loop['p99']:6.1f} ms max {open_loop['max']:6.1f} ms non-2xx {open_loop['non2xx']} "
              f"(CPU/request gunicorn {app_cpu:4.1f} ms + PostgreSQL {pg_cpu:4.1f} ms)")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
