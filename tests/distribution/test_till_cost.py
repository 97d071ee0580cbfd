"""What distribution costs the till: nothing with it off, one indexed lookup for an unbound shopper with it on."""
from __future__ import annotations

from distribution import program
from tests.sql_capture import statements


def _statements_of_a_purchase(buy, member_id: int, order_no: str) -> list[str]:
    buy(member_id, [("LATTE", 1)], paid=3000, order_no=order_no + "-warm")  # the configuration copy is current
    with statements() as seen:
        response = buy(member_id, [("LATTE", 1)], paid=3000, order_no=order_no)
    assert response.status_code == 201, response.get_json()
    return seen


def test_off_costs_nothing_and_on_costs_one_lookup_for_an_unbound_shopper(buy, dist, login):
    _, member_id = login("tina")
    buy(member_id, [("LATTE", 1)], paid=3000, order_no="FIRST")  # later purchases are repeat purchases
    program.update_settings({"enabled": False})
    off = _statements_of_a_purchase(buy, member_id, "OFF")
    assert not [sql for sql in off if "distribution" in sql]
    program.update_settings({"enabled": True})
    on = _statements_of_a_purchase(buy, member_id, "ON")
    extra = [sql for sql in on if "distribution" in sql]
    assert len(on) == len(off) + 1 and len(extra) == 1 and "distribution_bindings" in extra[0]
