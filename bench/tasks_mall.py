"""Benchmark of check-in and the points mall (prints figures; not a test). See bench/README.md.

1. Resets the schema of BENCH_DATABASE_URL (default: this helper's test database), seeds the demo program,
   MEMBERS members each holding 100000 points (a consistent ledger row + lot + account per member) and one
   mall item with ample stock, which every redemption hits (the worst case: one hot stock row).
2. Runs gunicorn (production mode, `--workers 4 --threads 4`) and drives, with wrk and CONNECTIONS connections:
   - POST /api/v1/tasks/checkin, each request a member who has not checked in yet (a fresh token each time);
   - POST /api/v1/redemptions {item, quantity 1} by random members (points debit FIFO + conditional stock UPDATE);
   - GET /api/v1/catalog by random members.
3. Checks afterwards that stock + redeemed == the starting stock and that the ledger verify finds no drift.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_tasks")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
MEMBERS = int(os.environ.get("MEMBERS", "20000"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
DURATION = os.environ.get("DURATION", "15s")
WORKERS = os.environ.get("WORKERS", "4")
THREADS = os.environ.get("THREADS", "4")
STOCK = 10_000_000
PORT = 8094

ENV = os.environ | {
    "APP_MODE": "production", "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789", "MEMBER_CODE_SECRET": "bench-member-code-secret",
    "WECHAT_APPID": "wx-bench", "WECHAT_SECRET": "b", "WECHAT_MCH_ID": "bench", "WECHAT_PAY_API_KEY": "bench-pay",
    "TASKS_RATE_LIMIT": "100000/minute",
}
os.environ.update(ENV)

LUA = r"""
local tokens = {%(tokens)s}
local method = "%(method)s"
local path = "%(path)s"
local body = '%(body)s'
local sequential = %(sequential)s
local threads = 2
local counter = 0
tid = 0  -- a global: thread:set() writes globals, a `local tid` would shadow it and every thread would be 0
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919)
end
function request()
  counter = counter + 1
  local index
  if sequential then
    index = ((counter - 1) * threads + tid - 1) %% #tokens + 1
  else
    index = math.random(1, #tokens)
  end
  local headers = {["Authorization"] = "Bearer " .. tokens[index], ["Content-Type"] = "application/json"}
  if method == "GET" then
    return wrk.format("GET", path, headers, nil)
  end
  return wrk.format(method, path, headers, body)
end
"""


def setup_data() -> tuple[list[str], int]:
    from sqlalchemy import text

    from app.auth import issue_token
    from app.extensions import db
    from demo import seed
    from mall import service as mall
    from mall.schemas import CatalogItemIn
    from server import create_app

    app = create_app("production")
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        seed()
        started = time.perf_counter()
        db.session.execute(text("""
            INSERT INTO members (gender, invite_code, tier_id, growth, created_at)
            SELECT 0, 'B' || g, (SELECT id FROM tiers ORDER BY rank LIMIT 1), 0, now()
            FROM generate_series(1, :n) AS g"""), {"n": MEMBERS})
        db.session.execute(text("""
            INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, balance_after, created_at)
            SELECT id, 100000, 'grant', 'bench:' || id, 'grant', 100000, now() FROM members"""))
        db.session.execute(text("""
            INSERT INTO points_lots (member_id, entry_id, amount, remaining, state, available_at, expires_at,
                                     created_at)
            SELECT member_id, id, 100000, 100000, 'open', now(), now() + interval '1 year', now()
            FROM points_ledger WHERE kind = 'grant' AND business_key LIKE 'bench:%'"""))
        db.session.execute(text("""
            INSERT INTO points_accounts (member_id, available, pending, debt, updated_at)
            SELECT id, 100000, 0, 0, now() FROM members"""))
        db.session.commit()
        item = mall.create_item(CatalogItemIn().load({"code": "bench", "name": "bench item", "kind": "pickup",
                                                      "points_price": 10, "stock": STOCK}))
        from points import ledger as points_service

        points_service.get_policy()  # created lazily by the first credit otherwise: concurrent first credits race
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"seeded {MEMBERS} members in {time.perf_counter() - started:.1f}s")
        ids = list(db.session.scalars(text("SELECT id FROM members ORDER BY id")))
        tokens = [issue_token("member", member_id) for member_id in ids]
        return tokens, item.id


def serve() -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen([gunicorn, "--workers", WORKERS, "--threads", THREADS, "--bind", f"127.0.0.1:{PORT}",
                             "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=ENV, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def run_wrk(tokens: list[str], method: str, path: str, body: str = "", sequential: bool = False,
            warm: bool = True) -> dict:
    script = LUA % {"tokens": ",".join(f'"{t}"' for t in tokens), "method": method, "path": path, "body": body,
                    "sequential": "true" if sequential else "false"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    if warm:
        subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d3s", "-s", handle.name, f"http://127.0.0.1:{PORT}"],
                       capture_output=True, check=True)
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-s", handle.name,
                          f"http://127.0.0.1:{PORT}"], capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "total": total}


def in_process(tokens: list[str], item_id: int, count: int = 300) -> dict:
    """Server time per request, one at a time (no wrk, no HTTP), and SQL statements per request: the
    statement count does not depend on how busy the machine is."""
    import statistics

    from sqlalchemy import event

    from app.extensions import db
    from server import create_app

    app = create_app("production")
    out = {}
    with app.app_context():
        statements = {"n": 0}

        def count_statement(*args) -> None:
            statements["n"] += 1

        event.listen(db.engine, "before_cursor_execute", count_statement)
        client = app.test_client()
        fresh = iter(tokens[len(tokens) // 2:])  # members wrk is unlikely to have checked in
        cases = {
            "checkin": lambda: client.post("/api/v1/tasks/checkin", headers={"Authorization": "Bearer " + next(fresh)}),
            "redeem": lambda: client.post("/api/v1/redemptions", json={"item_id": item_id, "quantity": 1,
                                                                       "store_code": "S1"},
                                          headers={"Authorization": "Bearer " + tokens[0]}),
            "catalog": lambda: client.get("/api/v1/catalog", headers={"Authorization": "Bearer " + tokens[1]}),
        }
        for name, call in cases.items():
            times, codes = [], {}
            statements["n"] = 0
            for _ in range(count):
                begin = time.perf_counter()
                response = call()
                times.append((time.perf_counter() - begin) * 1000)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
            q = statistics.quantiles(times, n=100)
            out[name] = {"p50": q[49], "p99": q[98], "statements": statements["n"] / count, "codes": codes}
        event.remove(db.engine, "before_cursor_execute", count_statement)
    return out


def check(item_id: int) -> str:
    from sqlalchemy import func, select

    from app.extensions import db
    from mall.models import CatalogItem, Redemption
    from points import ledger as points_service
    from server import create_app
    from tasks.models import CheckIn

    app = create_app("production")
    with app.app_context():
        stock = db.session.get(CatalogItem, item_id).stock
        redeemed = db.session.scalar(select(func.coalesce(func.sum(Redemption.quantity), 0)))
        checkins = db.session.scalar(select(func.count(CheckIn.id)))
        drifts = points_service.verify()
    assert stock + redeemed == STOCK, (stock, redeemed)
    assert drifts == [], drifts[:3]
    return f"after: {checkins} check-ins, {redeemed} redeemed, stock {stock} (+ redeemed = start), ledger verify clean"


def main() -> None:
    tokens, item_id = setup_data()
    results = {}
    proc = serve()
    try:
        # no warm-up: every member may check in once today, a warm-up would spend the fresh members
        results["checkin"] = run_wrk(tokens, "POST", "/api/v1/tasks/checkin", sequential=True, warm=False)
        results["redeem"] = run_wrk(tokens, "POST", "/api/v1/redemptions",
                                    f'{{"item_id":{item_id},"quantity":1,"store_code":"S1"}}')
        results["catalog"] = run_wrk(tokens, "GET", "/api/v1/catalog")
    finally:
        stop(proc)
    print(f"\n== {MEMBERS} members, {CONNECTIONS} connections, {DURATION}, gunicorn --workers {WORKERS} "
          f"--threads {THREADS}, {os.cpu_count()} CPUs shared by wrk, gunicorn and PostgreSQL")
    for name, r in results.items():
        print(f"{name:8s} {r['rps']:8.1f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
              f"requests {r['total']}  non-2xx {r['non2xx']}")
    for name, r in in_process(tokens, item_id).items():
        print(f"in process, one at a time: {name:8s} p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
              f"{r['statements']:.1f} SQL statements/request  statuses {r['codes']}")
    print(check(item_id))


if __name__ == "__main__":
    main()
