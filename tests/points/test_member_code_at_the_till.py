"""The member code at the till (issue 14): ASCII digits only, a refusal burns nothing, a used code is replaced
at once, and the member's points and coupons are spent only with their code or a manager's audited override.
These run on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.extensions import db
from coupons import issuing
from members import member_code
from members.models import ConsumedMemberCode
from points import ledger
from points.models import LedgerEntry
from tests.conftest import bearer
from tests.coupons.helpers import template
from till.models import Purchase

TEA = [{"sku": "TEA", "qty": 1}]  # 2000 fen
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _code(client, token) -> str:
    return client.get("/api/v1/me/code", headers=bearer(token)).get_json()["code"]


def _error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code, response.get_json()


def test_one_code_in_other_digits_buys_once(client, staff, shopper, at):
    """The code was matched by its digits but burnt by its raw string: the same number in full-width or
    Arabic-Indic digits bought again (four purchases, four earnings); '²' passed isdigit() and gave 500."""
    token, member_id = shopper
    at("2026-03-04T10:00:05+08:00")
    code = _code(client, token)
    look_alikes = [code.translate(FULL_WIDTH), code.translate(ARABIC_INDIC), code.translate(DEVANAGARI),
                   "²" * 18, code[:-1] + "²", " " + code[1:], code[:-1] + "\n"]
    first = client.post("/api/v1/pos/purchases", headers=staff,
                        json={"order_no": "A1", "member_code": code, "items": TEA, "paid": 2000})
    assert first.status_code == 201, first.get_json()
    for index, other in enumerate(look_alikes):
        _error(client.post("/api/v1/pos/scan", headers=staff, json={"member_code": other}), 404, "member_code_invalid")
        _error(client.post("/api/v1/pos/quote", headers=staff, json={"member_code": other, "items": TEA}), 404,
               "member_code_invalid")
        _error(client.post("/api/v1/pos/purchases", headers=staff, json={
            "order_no": f"B{index}", "member_code": other, "items": TEA, "paid": 2000}), 404, "member_code_invalid")
    assert _count(Purchase) == 1 and _count(LedgerEntry, LedgerEntry.kind == "earn") == 1


@pytest.mark.parametrize("refusal", [
    {"paid": 1999},                                        # 422 paid_mismatch
    {"paid": 1000, "points_to_use": 5000},                 # 409 insufficient_points
    {"paid": 2000, "items": [{"sku": "NOPE", "qty": 1}]},  # 422 unknown_sku
    {"paid": 2000, "coupon_ids": [424242]},                # 404 coupon_not_found
])
def test_a_refused_purchase_burns_nothing(client, staff, shopper, give, at, refusal):
    token, member_id = shopper
    at("2026-03-04T10:00:05+08:00")
    give(member_id, 100)
    code = _code(client, token)
    refused = client.post("/api/v1/pos/purchases", headers=staff,
                          json={"order_no": "R1", "member_code": code, "items": TEA} | refusal)
    assert 400 <= refused.status_code < 500, refused.get_json()
    assert _count(ConsumedMemberCode) == 0 and _count(Purchase) == 0
    assert _code(client, token) == code  # nothing moved: the same code is shown
    assert client.post("/api/v1/pos/scan", headers=staff, json={"member_code": code}).status_code == 200
    bought = client.post("/api/v1/pos/purchases", headers=staff,
                         json={"order_no": "R2", "member_code": code, "items": TEA, "paid": 2000})
    assert bought.status_code == 201, bought.get_json()
    assert _count(ConsumedMemberCode) == 1 and ledger.summary(member_id)["balance"] == 100 + 20


def test_a_used_code_is_replaced_at_once(client, staff, shopper, at):
    """/me/code showed the used code until its 30-second step ended: a second visit inside it got 409."""
    token, member_id = shopper
    at("2026-03-04T10:00:05+08:00")
    first = _code(client, token)
    body = {"member_code": first, "items": TEA, "paid": 2000}
    assert client.post("/api/v1/pos/purchases", headers=staff, json=body | {"order_no": "U1"}).status_code == 201
    second = _code(client, token)  # the same step
    assert second != first and len(second) == 18 and second.isascii() and second.isdigit()
    _error(client.post("/api/v1/pos/purchases", headers=staff, json=body | {"order_no": "U2"}), 409,
           "member_code_used")
    at("2026-03-04T10:00:40+08:00")  # the next step: the fresh code is still accepted (previous step)
    again = client.post("/api/v1/pos/purchases", headers=staff,
                        json={"order_no": "U3", "member_code": second, "items": TEA, "paid": 2000})
    assert again.status_code == 201, again.get_json()
    third = _code(client, token)
    assert third not in (first, second)
    _error(client.post("/api/v1/pos/scan", headers=staff, json={"member_code": second}), 409, "member_code_used")
    assert client.post("/api/v1/pos/scan", headers=staff, json={"member_code": third}).status_code == 200
    assert _count(Purchase) == 2 and _count(ConsumedMemberCode) == 2


def test_the_same_order_retried_with_its_used_code_gets_the_first_answer(client, staff, shopper, at):
    token, _ = shopper
    at("2026-03-04T10:00:05+08:00")
    body = {"order_no": "T1", "member_code": _code(client, token), "items": TEA, "paid": 2000}
    first = client.post("/api/v1/pos/purchases", headers=staff, json=body)
    again = client.post("/api/v1/pos/purchases", headers=staff, json=body)
    assert first.status_code == again.status_code == 201 and again.get_json() == first.get_json()


# --- points and coupons need the member ---------------------------------------------------------------

def test_points_and_coupons_need_the_members_code(client, staff, shopper, give, coupon_for):
    """Points were spent by member_id alone: a clerk of any store spent a member's points with no code."""
    _, member_id = shopper
    give(member_id, 5000)
    coupon = coupon_for(member_id)
    by_id = {"member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}]}
    quote = client.post("/api/v1/pos/quote", headers=staff, json=by_id | {"points_to_use": 1000})
    assert quote.status_code == 200 and quote.get_json()["points_used"] == 1000  # a quote still prices by id
    for extra in ({"points_to_use": 1000, "paid": 2000}, {"coupon_ids": [coupon.id], "paid": 2500},
                  {"points_to_use": 1000, "coupon_ids": [coupon.id], "paid": 1500}):
        _error(client.post("/api/v1/pos/purchases", headers=staff, json=by_id | extra | {"order_no": "N1"}), 403,
               "member_code_required")
    _error(client.post("/api/v1/pos/purchases", headers=staff, json=by_id | {
        "order_no": "N2", "points_to_use": 1000, "paid": 2000, "override_reason": "shopper forgot phone"}), 403,
        "override_not_allowed")
    assert _count(Purchase) == 0 and ledger.summary(member_id)["balance"] == 5000
    plain = client.post("/api/v1/pos/purchases", headers=staff, json=by_id | {"order_no": "N3", "paid": 3000})
    assert plain.status_code == 201  # earning by id stays: it spends nothing of the member's


def test_a_manager_may_override_and_it_is_audited(client, operator_token, shopper, give, coupon_for):
    token, member_id = shopper
    give(member_id, 5000)
    coupon = coupon_for(member_id)
    manager = bearer(operator_token("manager", "S1"))
    body = {"order_no": "M1", "member_id": member_id, "items": [{"sku": "LATTE", "qty": 1}], "points_to_use": 1000,
            "coupon_ids": [coupon.id], "paid": 1500, "override_reason": "phone out of battery"}
    response = client.post("/api/v1/pos/purchases", headers=manager, json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["points_spent"] == 1000
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "purchase.override"))
    assert row.actor_kind == "operator" and row.target_id == str(response.get_json()["purchase_id"])
    assert row.after["reason"] == "phone out of battery" and row.after["points_spent"] == 1000
    assert row.after["coupon_ids"] == [coupon.id] and row.after["member_id"] == member_id
    with_code = {k: v for k, v in body.items() if k != "member_id"} | {
        "order_no": "M2", "member_code": member_code.issue(member_id).code}
    _error(client.post("/api/v1/pos/purchases", headers=manager, json=with_code), 422, "validation_error")


@pytest.fixture
def coupon_for():
    """coupon_for(member_id) -> a 5-yuan coupon with no threshold in the member's wallet."""

    def make(member_id: int):
        five = template(title="5元券", amount_off=500, threshold=0)
        coupon = issuing.grant(member_id, five.id, key=f"test:{member_id}", reason="test")
        db.session.commit()
        return coupon

    return make
