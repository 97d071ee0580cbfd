"""The demo's integrations: a POS API key for store S1 and a webhook endpoint (every event type) pointing at the
demo's CRM, a receiver on loopback that `make demo` starts (demo/webhook_receiver.py) and that prints each event.

Seeded last, so the shoppers' months of history are not sent: what the demo user does is. The secrets are
printed on every run (they are re-derived, never stored; the demo's secret key is public anyway).
"""
from __future__ import annotations

import os

from sqlalchemy import select

from app.api_keys import secrets
from app.api_keys import service as api_keys
from app.api_keys.models import ApiKey
from app.extensions import db
from webhooks import endpoints
from webhooks.delivery import secret_of
from webhooks.models import WebhookEndpoint
from webhooks.outbox import EVENT_TYPES

KEY_NAME = "demo POS S1"
CRM = "demo CRM"


def webhook_url() -> str:
    return os.environ.get("DEMO_WEBHOOK_URL") or "http://127.0.0.1:8010/hooks"


def _endpoint() -> WebhookEndpoint | None:
    return db.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.description == CRM))


def webhook_secret() -> str | None:
    endpoint = _endpoint()
    return None if endpoint is None else secret_of(endpoint.salt)


def seed() -> list[str]:
    if db.session.scalar(select(ApiKey).where(ApiKey.name == KEY_NAME)) is None:
        api_keys.create(KEY_NAME, "staff", "S1", audited=False)
    key = db.session.scalar(select(ApiKey).where(ApiKey.name == KEY_NAME))
    url = webhook_url()
    endpoint = _endpoint()
    if endpoint is None:
        endpoints.create(url, list(EVENT_TYPES), CRM, audited=False)
    elif endpoint.url != url:  # the demo's receiver moved to another port
        endpoint.url = url
        db.session.commit()
    return [f"POS API key (store S1, role staff): {key.key_id} secret "
            f"{secrets.derive(api_keys.PURPOSE, key.salt, api_keys.PREFIX)} (docs/pos_api_keys.md signs with it)",
            f"webhooks: every event type to {url} ({CRM}), signing secret {webhook_secret()}"]
