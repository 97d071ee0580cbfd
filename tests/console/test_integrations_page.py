"""The admin's integrations page: API keys made (secret shown once), rotated and revoked; webhook endpoints shown
with their state (a paused one stands out) and resumed."""
from __future__ import annotations

from app import clock
from app.api_keys.models import ApiKey
from app.extensions import db
from tests.console.helpers import post, sign_in
from webhooks import endpoints
from webhooks.models import WebhookEndpoint

PAGE = "/console/admin/integrations"


def test_admin_makes_rotates_and_revokes_a_key(client, program):
    sign_in(client, "admin")
    made = post(client, PAGE, {"name": "收银机 1", "role": "staff", "store": "S1"}, page=PAGE)
    html = made.get_data(as_text=True)
    key = db.session.query(ApiKey).one()
    assert made.status_code == 200 and "只显示这一次" in html and key.key_id in html and "sk_" in html
    assert "sk_" not in client.get(PAGE).get_data(as_text=True)  # never again
    refused = post(client, PAGE, {"name": "x", "role": "admin", "store": "S1"}, page=PAGE)
    assert refused.status_code == 422 and db.session.query(ApiKey).count() == 1
    rotated = post(client, f"{PAGE}/keys/{key.id}", {"action": "rotate"}, page=PAGE)
    assert "sk_" in rotated.get_data(as_text=True)
    post(client, f"{PAGE}/keys/{key.id}", {"action": "revoke"}, page=PAGE)
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    assert "已吊销" in client.get(PAGE).get_data(as_text=True)


def test_a_paused_endpoint_is_shown_and_resumed(client, program):
    made = endpoints.create("http://127.0.0.1:9/hooks", ["member.created"], "CRM", audited=False)
    row = db.session.get(WebhookEndpoint, made["id"])
    row.state, row.paused_at, row.pause_reason = "paused", clock.now(), "every delivery failed for 24 h"
    db.session.commit()
    sign_in(client, "admin")
    assert "已暂停" in client.get(PAGE).get_data(as_text=True)
    resumed = post(client, f"{PAGE}/webhooks/{made['id']}", {"action": "resume"}, page=PAGE)
    assert "已恢复推送" in resumed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, made["id"]).state == "active"


def test_only_admins_see_it(client, program):
    sign_in(client, "marketing")
    assert client.get(PAGE).status_code == 403
