"""A worker SIGKILLed while its deliveries are in flight loses nothing: once the lease ends, the next drain
sends what was not confirmed (at least once: a receiver may see an event twice, by the same id)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from tests.integrations.test_webhooks import _events, _states
from webhooks import delivery
from webhooks.models import WebhookDelivery, WebhookEvent

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_killed_mid_delivery_loses_nothing(app, endpoint, receiver):
    endpoint(["member.created"])
    receiver.behave = lambda event_id: (200, 2.0)  # slow: the kill lands while POSTs are in flight
    _events(60)
    db.session.remove()
    overrides = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                 "REDIS_URL": app.config["REDIS_URL"], "DEMO_DIR": app.config["DEMO_DIR"]}
    worker = subprocess.Popen([sys.executable, "-m", "tests.integrations.kill_drain"], cwd=ROOT,
                              env={**os.environ, "KILL_TEST_OVERRIDES": json.dumps(overrides)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert receiver.arrived.wait(60), "the worker never delivered"
        time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(30) == -signal.SIGKILL, worker.stderr.read()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
    got_before = set(receiver.event_ids())
    states = _states()
    assert states.get("delivered", 0) < 60  # killed half-way: some leased and unconfirmed
    leased = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                               .where(WebhookDelivery.leased_until.is_not(None)))
    assert leased > 0

    receiver.behave = lambda event_id: (200, 0.0)
    delivery.drain()  # the leases still run: nothing is taken twice yet
    assert _states() == states
    clock.set_now(clock.now() + delivery.LEASE + timedelta(seconds=1))
    delivery.drain()

    assert _states() == {"delivered": 60}
    every = {f"evt_{i}" for i in db.session.scalars(select(WebhookEvent.id))}
    assert set(receiver.event_ids()) == every  # nothing lost
    assert got_before <= every
