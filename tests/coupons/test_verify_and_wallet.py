"""Standalone verification (核销) at a till, the member's wallet and expiry."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from app.extensions import db
from coupons import checkout, expiry, issuing, jobs, stats
from coupons.models import Coupon
from marketing import issues
from tests.concurrency import end_test_transaction
from tests.conftest import bearer
from tests.coupons.helpers import member, member_headers, template


def _gift(member_id: int, **terms) -> Coupon:
    spec = {"kind": "gift", "amount_off": None, "gift_sku": "DRINK", "threshold": 0, **terms}
    coupon = issuing.grant(member_id, template(claimable=False, **spec).id, key="k", reason="test")
    db.session.commit()
    return coupon


def test_verify_once(client, staff, stores):
    coupon = _gift(member().id)
    first = client.post("/api/v1/pos/coupons/verify", json={"coupon_code": coupon.code}, headers=staff)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["state"] == "used"
    second = client.post("/api/v1/pos/coupons/verify", json={"coupon_code": coupon.code}, headers=staff)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "coupon_already_used"
    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).verified_store_id == stores["S1"].id


def test_verify_refusals(client, staff, marketing, login, at):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    discount = issuing.grant(m, template(claimable=False).id, key="k", reason="t")
    db.session.commit()
    cases = [
        ({"coupon_code": "00000000000000000000"}, 404, "coupon_not_found"),
        ({"coupon_code": discount.code}, 422, "coupon_not_verifiable"),
        ({}, 422, "validation_error"),
        ({"coupon_code": ""}, 422, "validation_error"),
        ({"coupon_code": 12345}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        response = client.post("/api/v1/pos/coupons/verify", json=body, headers=staff)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    gift = _gift(m, validity={"kind": "relative", "days": 1})
    token, _ = login("shopper")
    for headers in (marketing, bearer(token)):
        assert client.post("/api/v1/pos/coupons/verify", json={"coupon_code": gift.code},
                           headers=headers).status_code == 403
    at("2026-03-05T10:00:00+08:00")
    late = client.post("/api/v1/pos/coupons/verify", json={"coupon_code": gift.code}, headers=staff)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "coupon_expired"
    assert db.session.get(Coupon, gift.id).state == "available"


def test_my_coupons_by_state(client, at):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    short = issuing.grant(m, template(validity={"kind": "relative", "days": 1}).id, key="k", reason="t")
    long = issuing.grant(m, template().id, key="k", reason="t")
    gift_used = issuing.grant(m, template(kind="gift", amount_off=None, gift_sku="X", threshold=0).id,
                              key="k", reason="t")
    other = member().id
    issuing.grant(other, template().id, key="k", reason="t")
    db.session.commit()
    checkout.verify(gift_used.code, None, None)
    at("2026-03-03T10:00:00+08:00")  # `short` is past its end; the expiry job has not run yet
    headers = member_headers(m)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/me/coupons{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [c["id"] for c in response.get_json()["items"]]

    assert ids("?state=available") == [long.id]
    assert ids("?state=expired") == [short.id]
    assert ids("?state=used") == [gift_used.id]
    assert ids("") == [gift_used.id, long.id, short.id]
    page = client.get("/api/v1/me/coupons?limit=2", headers=headers).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"/api/v1/me/coupons?limit=2&cursor={page['next_cursor']}", headers=headers).get_json()
    assert [c["id"] for c in rest["items"]] == [short.id]
    assert client.get("/api/v1/me/coupons?state=bogus", headers=headers).status_code == 422
    item = client.get("/api/v1/me/coupons?state=available", headers=headers).get_json()["items"][0]
    assert item["terms"]["threshold"] == 10000 and item["valid_until"].startswith("2026-03-31")


def test_expiry_job_is_batched_and_rerunnable(at):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    short_t = template(validity={"kind": "relative", "days": 1}, per_member_limit=10)
    for n in range(5):
        issuing.grant(m, short_t.id, key=f"k{n}", reason="t")
    keep = issuing.grant(m, template().id, key="k", reason="t")
    db.session.commit()
    at("2026-03-02T12:00:00+08:00")
    soon = expiry.coupons_expiring_within(3)
    assert len(soon) == 5 and all(row["member_id"] == m for row in soon)
    page = expiry.coupons_expiring_within(3, after_id=soon[1]["id"], limit=2)
    assert [row["id"] for row in page] == [soon[2]["id"], soon[3]["id"]]
    assert expiry.coupons_expiring_within(30)[-1]["id"] == keep.id
    at("2026-03-03T00:00:01+08:00")
    assert expiry.expire_coupons(batch_size=2) == {"scanned": 5, "changed": 5, "skipped": 0, "failed": 0}
    assert jobs.expire_coupons() == {"scanned": 0, "changed": 0, "skipped": 0, "failed": 0}
    assert Coupon.query.filter_by(state="expired").count() == 5
    assert db.session.get(Coupon, keep.id).state == "available"


def test_20_concurrent_verifications_one_succeeds(app, staff):
    code = _gift(member().id).code

    def attempt(_):
        with app.app_context():
            return app.test_client().post("/api/v1/pos/coupons/verify", json={"coupon_code": code},
                                          headers=staff).status_code

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert statuses.count(200) == 1 and statuses.count(409) == 19


def test_scan_at_the_till_lists_usable_coupons(client, staff, at):
    from members import member_code

    at("2026-03-01T10:00:00+08:00")
    m = member().id
    usable = issuing.grant(m, template().id, key="k", reason="t")
    issuing.grant(m, template(validity={"kind": "fixed", "start": "2026-04-01", "end": "2026-04-02"}).id,
                  key="k", reason="t")  # not valid yet
    db.session.commit()
    response = client.post("/api/v1/pos/scan", json={"member_code": member_code.issue(m).code}, headers=staff)
    assert response.status_code == 200, response.get_json()
    coupons = response.get_json()["usable_coupons"]
    assert [c["id"] for c in coupons] == [usable.id]
    assert coupons[0]["valid_until"] == "2026-03-31T16:00:00+00:00" and coupons[0]["state"] == "available"


def test_stats_and_cli(app, at, stores):
    at("2026-03-01T10:00:00+08:00")
    m = member().id
    a = issuing.grant(m, template(threshold=0, amount_off=100, validity={"kind": "relative", "days": 1}).id,
                      key="k", reason="t")
    b = issuing.grant(m, template(threshold=0, amount_off=100, stackable=True).id, key="k", reason="t")
    issuing.grant(m, template().id, key="k", reason="t")
    db.session.commit()
    from tests.coupons.helpers import line, purchase

    checkout.use_for_purchase(m, [b.id], [line("TEA", 500)], purchase(m, stores["S1"].id))
    db.session.commit()
    at("2026-03-10T10:00:00+08:00")
    assert stats.coupon_stats() == {"issued": 3, "used": 1, "expired": 1, "use_rate": 33.3}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["coupons", "expire"])
    assert result.exit_code == 0 and "'changed': 1" in result.output
    assert db.session.get(Coupon, a.id).state == "expired"
    issue, _ = issues.create_issue(template(claimable=False).id, {"member_ids": [m]}, None, None)
    result = runner.invoke(args=["coupons", "run-issue", str(issue.id)])
    assert result.exit_code == 0 and "'changed': 1" in result.output
