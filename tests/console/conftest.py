import pytest

from app.extensions import db
from members import member_code
from points import ledger


@pytest.fixture
def shopper(client, program):
    """A new member (with the 新人礼 coupon) holding 1,000 more points: (member id, a fresh member code)."""
    body = client.post("/api/v1/auth/wechat-login", json={"code": "test-alice"}).get_json()
    member_id = body["member"]["id"]
    ledger.credit(member_id, 1000, kind="adjust", key="console-test", cause_type="test", note="test")
    db.session.commit()
    return member_id, member_code.issue(member_id).code
