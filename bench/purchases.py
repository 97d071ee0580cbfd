"""Benchmark of the till (prints figures; not a test). See bench/README.md for the command and results.

1. Resets the schema of BENCH_DATABASE_URL (default: this helper's test database) and seeds the demo
   program plus MEMBERS members with points accounts.
2. Runs gunicorn (production mode, `--workers 4 --threads 4` as the README documents) and drives
   POST /api/v1/pos/purchases with wrk: CONNECTIONS connections, carts of 3 distinct lines, random members,
   unique order numbers; then the same against bench/ceiling.py (one UPDATE + one INSERT).
3. Loads LEDGER_ROWS ledger rows (spread over the members, plus HEAVY_ROWS for one member) and times the
   member ledger page in process (server time: routing, auth, query, serialization) for random members
   and for deep keyset pages of the heavy member.
"""
from __future__ import annotations

import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_ledger")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
MEMBERS = int(os.environ.get("MEMBERS", "100000"))
LEDGER_ROWS = int(os.environ.get("LEDGER_ROWS", "10000000"))
HEAVY_ROWS = int(os.environ.get("HEAVY_ROWS", "1000000"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
DURATION = os.environ.get("DURATION", "30s")
WORKERS = os.environ.get("WORKERS", "4")
THREADS = os.environ.get("THREADS", "4")
SKIP = set(os.environ.get("SKIP", "").split(","))  # setup,purchases,ceiling,load,ledger
PORT = 8097

ENV = os.environ | {
    "APP_MODE": "production", "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "MEMBER_CODE_SECRET": "bench-member-code-secret-0123456789abcdef",
    "WECHAT_APPID": "wx-bench", "WECHAT_SECRET": "b", "WECHAT_MCH_ID": "bench",
    "WECHAT_PAY_API_KEY": "bench-pay-key-0123456789abcdefgh",
}
os.environ.update(ENV)

LUA = r"""
local token = "%(token)s"
local members = %(members)d
local run = "%(run)s"
local path = "%(path)s"
local skus = {%(skus)s}
local counter = 0
tid = 0
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
function request()
  counter = counter + 1
  local member = math.random(1, members)
  local picked, items, paid = {}, {}, 0
  while #items < 3 do
    local i = math.random(1, #skus)
    if not picked[i] then
      picked[i] = true
      local qty = math.random(1, 3)
      items[#items + 1] = string.format('{"sku":"%%s","qty":%%d}', skus[i][1], qty)
      paid = paid + skus[i][2] * qty
    end
  end
  local body = string.format('{"order_no":"%%s-%%d-%%d","member_id":%%d,"items":[%%s],"paid":%%d}',
                             run, tid, counter, member, table.concat(items, ","), paid)
  return wrk.format(nil, path, nil, body)
end
"""


def setup_data() -> tuple[str, list[tuple[str, int]]]:
    from sqlalchemy import text

    from app.auth import issue_token
    from app.extensions import db
    from app.operators.models import Operator
    from catalog.models import Product
    from demo import seed
    from server import create_app

    app = create_app("production")
    with app.app_context():
        if "setup" in SKIP:  # reuse the data of a previous run
            staff = db.session.scalar(db.select(Operator).where(Operator.username == "staff1"))
            token = issue_token("operator", staff.id, role="staff", store_id=staff.store_id)
            return token, [(p.sku, p.list_price) for p in db.session.scalars(db.select(Product).order_by(Product.id))]
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.execute(text("DROP TABLE IF EXISTS bench_ceiling"))
        db.session.commit()
        db.create_all()
        seed(with_history=False)  # the program (products, rules, tasks), not months of shoppers
        started = time.perf_counter()
        db.session.execute(text("""
            INSERT INTO members (gender, invite_code, tier_id, growth, created_at)
            SELECT 0, 'B' || g, (SELECT id FROM tiers ORDER BY rank LIMIT 1), 0, now()
            FROM generate_series(1, :n) AS g"""), {"n": MEMBERS})
        db.session.execute(text("""
            INSERT INTO points_accounts (member_id, available, pending, debt, updated_at)
            SELECT id, 0, 0, 0, now() FROM members"""))
        db.session.execute(text("""CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, member_id int NOT NULL,
                                    order_no varchar(64) NOT NULL UNIQUE, created_at timestamptz NOT NULL)"""))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        print(f"seeded {MEMBERS} members in {time.perf_counter() - started:.1f}s")
        staff = db.session.scalar(db.select(Operator).where(Operator.username == "staff1"))
        token = issue_token("operator", staff.id, role="staff", store_id=staff.store_id)
        # normal-tier members pay list prices (the demo has no "normal" member price)
        skus = [(p.sku, p.list_price) for p in db.session.scalars(db.select(Product).order_by(Product.id))]
    return token, skus


def serve(target: str) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen([gunicorn, "--workers", WORKERS, "--threads", THREADS, "--bind", f"127.0.0.1:{PORT}",
                             "--log-level", "warning", target], cwd=ROOT, env=ENV, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz" if target == "wsgi:app"
                                   else f"http://127.0.0.1:{PORT}/nothing", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def _script(path: str, token: str, skus: list[tuple[str, int]], run: str) -> str:
    script = LUA % {"token": token, "members": MEMBERS, "run": run, "path": path,
                    "skus": ",".join(f'{{"{s}",{p}}}' for s, p in skus)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    return handle.name


def run_wrk(path: str, token: str, skus: list[tuple[str, int]]) -> dict:
    stamp = int(time.time())
    warm = _script(path, token, skus, f"w{stamp}")
    subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d5s", "-s", warm, f"http://127.0.0.1:{PORT}"],
                   capture_output=True, check=True)  # warm-up: connections, pools, caches
    script = _script(path, token, skus, f"r{stamp}")
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-s", script,
                          f"http://127.0.0.1:{PORT}"], capture_output=True, text=True, check=True).stdout
    os.unlink(warm)
    os.unlink(script)

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "raw": out}


def load_ledger(db, text) -> None:
    started = time.perf_counter()
    db.session.execute(text("""
        INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                                   created_at)
        SELECT (g % :m) + 1, 10, 'grant', 'bench:' || g, 'grant', NULL, 10, now()
        FROM generate_series(1, :n) AS g"""), {"m": MEMBERS, "n": LEDGER_ROWS})
    db.session.execute(text("""
        INSERT INTO points_ledger (member_id, delta, kind, business_key, cause_type, cause_id, balance_after,
                                   created_at)
        SELECT 1, 10, 'grant', 'bench-heavy:' || g, 'grant', NULL, 10, now()
        FROM generate_series(1, :n) AS g"""), {"n": HEAVY_ROWS})
    db.session.commit()
    db.session.execute(text("ANALYZE points_ledger"))
    db.session.commit()
    print(f"loaded {LEDGER_ROWS} + {HEAVY_ROWS} ledger rows in {time.perf_counter() - started:.1f}s")


def ledger_bench() -> dict:
    from sqlalchemy import text

    from app.auth import issue_token
    from app.extensions import db
    from app.pagination import encode_cursor
    from points import history
    from server import create_app

    app = create_app("production")
    with app.app_context():
        if "load" not in SKIP:
            load_ledger(db, text)
        rows = db.session.scalar(text("SELECT count(*) FROM points_ledger"))
        heavy_ids = db.session.execute(text(
            "SELECT min(id), max(id) FROM points_ledger WHERE member_id = 1")).one()
        client = app.test_client()

        def timed(member_id: int, cursor: str | None = None) -> float:
            headers = {"Authorization": "Bearer " + issue_token("member", member_id)}
            query = f"?limit=20&cursor={cursor}" if cursor else "?limit=20"
            begin = time.perf_counter()
            response = client.get(f"/api/v1/me/points/ledger{query}", headers=headers)
            elapsed = (time.perf_counter() - begin) * 1000
            assert response.status_code == 200, response.get_json()
            return elapsed

        def query_only(member_id: int, cursor: str | None = None) -> float:
            begin = time.perf_counter()
            history.member_ledger(member_id, 20, cursor)
            elapsed = (time.perf_counter() - begin) * 1000
            db.session.rollback()
            return elapsed

        for _ in range(200):
            timed(random.randint(1, MEMBERS))  # warm-up
        firsts = [timed(random.randint(1, MEMBERS)) for _ in range(3000)]
        deep_cursors = [encode_cursor(random.randint(*heavy_ids)) for _ in range(3000)]
        deep = [timed(1, cursor) for cursor in deep_cursors]
        sql_first = [query_only(random.randint(1, MEMBERS)) for _ in range(3000)]
        sql_deep = [query_only(1, cursor) for cursor in deep_cursors]
        page = history.page_statement(1, sum(heavy_ids) // 2, 21).compile(
            db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in db.session.execute(text(f"EXPLAIN ANALYZE {page}")))
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    return {"rows": rows, "first": (q(firsts, 50), q(firsts, 99)), "deep": (q(deep, 50), q(deep, 99)),
            "sql_first": (q(sql_first, 50), q(sql_first, 99)), "sql_deep": (q(sql_deep, 50), q(sql_deep, 99)),
            "plan": plan}


LOAD_BEFORE = os.getloadavg()


def main() -> None:
    token, skus = setup_data()
    results = {}
    if "purchases" not in SKIP:
        proc = serve("wsgi:app")
        try:
            results["purchases"] = run_wrk("/api/v1/pos/purchases", token, skus)
        finally:
            stop(proc)
        print(results["purchases"]["raw"])
    if "ceiling" not in SKIP:
        proc = serve("bench.ceiling:app")
        try:
            results["ceiling"] = run_wrk("/ceiling", token, skus)
        finally:
            stop(proc)
        print(results["ceiling"]["raw"])
    print(f"\n== load average before/after: {LOAD_BEFORE} / {os.getloadavg()}")
    print(f"== {MEMBERS} members, {CONNECTIONS} connections, gunicorn --workers {WORKERS} --threads {THREADS}, "
          f"{os.cpu_count()} CPUs shared by wrk, gunicorn and PostgreSQL")
    for name in ("purchases", "ceiling"):
        if name in results:
            r = results[name]
            print(f"{name:10s} {r['rps']:8.1f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
                  f"non-2xx {r['non2xx']}")
    if "purchases" in results and "ceiling" in results:
        print(f"purchases at {100 * results['purchases']['rps'] / results['ceiling']['rps']:.0f}% of the ceiling")
    if "ledger" not in SKIP:
        r = ledger_bench()
        print(f"ledger page, {r['rows']} ledger rows (request in process: auth + query + JSON; query alone):")
        for label, key in (("random members, first page", "first"), (f"heavy member ({HEAVY_ROWS} rows), "
                                                                      "random deep cursor", "deep")):
            (p50, p99), (s50, s99) = r[key], r["sql_" + key]
            print(f"  {label:45s} request p50 {p50:6.2f} ms p99 {p99:6.2f} ms | query p50 {s50:6.2f} ms "
                  f"p99 {s99:6.2f} ms")
        print(r["plan"])


if __name__ == "__main__":
    main()
