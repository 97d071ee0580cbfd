"""The ceiling and the floor for the till's benches: minimal Flask endpoints on the same PostgreSQL, under the
same settings as the app. Not part of the product.

- `/ceiling`: one UPDATE and one INSERT in one transaction (SQLAlchemy text statements).
- `/floor`: what a repeat purchase reads and writes, written the fastest way this stack allows: raw psycopg,
  server-side prepared statements, two round trips in pipeline mode (the reads: the operator's row, the
  stored answer, the config token, the account and member rows locked with the new ids taken by `nextval`;
  then the ledger entry, the purchase with its answer, three lines, its lot, the account, the earn-rule use,
  the member's growth and count, the growth log row, the notification, and COMMIT). No validation, no
  pricing, no ORM: the cost of the rows themselves, to put the app's figures in proportion.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Flask, jsonify, request
from psycopg.types.json import Json
from sqlalchemy import create_engine, text

from config import database_url

engine = create_engine(database_url(os.environ["DATABASE_URL"]), pool_size=5, max_overflow=10)
app = Flask(__name__)
_local = threading.local()


@app.post("/ceiling")
def ceiling():
    body = request.get_json()
    with engine.begin() as conn:
        conn.execute(text("UPDATE points_accounts SET available = available + 1 WHERE member_id = :m"),
                     {"m": body["member_id"]})
        conn.execute(text("INSERT INTO bench_ceiling (member_id, order_no, created_at) VALUES (:m, :o, now())"),
                     {"m": body["member_id"], "o": body["order_no"]})
    return jsonify({"ok": True}), 201


def connection() -> psycopg.Connection:
    """One psycopg connection per thread (the test client runs one thread)."""
    if getattr(_local, "conn", None) is None:
        _local.conn = psycopg.connect(os.environ["DATABASE_URL"])
        connections.append(_local.conn)
    return _local.conn


connections: list[psycopg.Connection] = []  # the bench reads their backends' CPU

_READS = (
    "SELECT active, role, store_id FROM operators WHERE id = %s",
    "SELECT request_hash, response FROM purchases WHERE store_id = %s AND order_no = %s",
    "SELECT token FROM points_config_version WHERE id = 1",
    "SELECT a.available, a.pending, a.debt, m.growth, m.purchase_count, m.tier_id, nextval('purchases_id_seq'), "
    "nextval('points_ledger_id_seq') FROM points_accounts a JOIN members m ON m.id = a.member_id "
    "WHERE a.member_id = %s FOR UPDATE",
)
_WRITES = {
    "purchase": "INSERT INTO purchases (id, store_id, order_no, member_id, operator_id, request_hash, subtotal, "
                "coupon_discount, points_used, points_value, paid, points_earned, growth_added, earn_entry_id, "
                "spend_entry_id, refunded_amount, refunded_full, response, created_at) VALUES (%s, %s, %s, %s, %s, "
                "%s, %s, 0, 0, 0, %s, %s, %s, %s, NULL, 0, false, %s, %s)",
    "line": "INSERT INTO purchase_lines (purchase_id, sku, name, category, qty, list_price, unit_price, total, "
            "refunded_qty) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0)",
    "entry": "INSERT INTO points_ledger (id, member_id, delta, kind, business_key, cause_type, cause_id, "
             "balance_after, expires_at, note, created_at) VALUES (%s, %s, %s, 'earn', %s, 'purchase', %s, %s, %s, "
             "%s, %s)",
    "lot": "INSERT INTO points_lots (member_id, entry_id, amount, remaining, state, available_at, expires_at, "
           "created_at) VALUES (%s, %s, %s, %s, 'open', %s, %s, %s)",
    "account": "UPDATE points_accounts SET available = %s, updated_at = %s WHERE member_id = %s",
    "rule_use": "INSERT INTO earn_rule_uses (purchase_id, member_id, rule_id, business_date, points, released) "
                "VALUES (%s, %s, %s, %s, %s, 0)",
    "member": "UPDATE members SET growth = %s, purchase_count = %s WHERE id = %s",
    "growth": "INSERT INTO growth_events (member_id, delta, growth_after, reason, ref, created_at) "
              "VALUES (%s, %s, %s, 'purchase', %s, %s)",
    "notification": "INSERT INTO notifications (member_id, kind, idempotency_key, template_id, data, page, state, "
                    "attempts, created_at) VALUES (%s, 'points_credited', %s, 'tpl', %s, 'pages/points/index', "
                    "'pending', 0, %s) ON CONFLICT DO NOTHING",
}


@app.post("/floor")
def floor():
    """Body: member_id, order_no, operator_id, store_id, rule_id, lines [[sku, qty, unit price]]."""
    body = request.get_json()
    member_id, order_no, store_id = body["member_id"], body["order_no"], body["store_id"]
    now = datetime.now(UTC)
    conn = connection()
    with conn.pipeline(), conn.transaction():
        cursors = [conn.execute(_READS[0], (body["operator_id"],)),
                   conn.execute(_READS[1], (store_id, order_no)),
                   conn.execute(_READS[2]),
                   conn.execute(_READS[3], (member_id,))]
        operator, stored, _, locked = (cursor.fetchone() for cursor in cursors)
        if not operator[0] or stored is not None:
            return jsonify({"refused": True}), 409
        available, _, debt, growth, purchases, _, purchase_id, entry_id = locked
        paid = sum(qty * price for _, qty, price in body["lines"])
        points = paid // 100
        answer = {"order_no": order_no, "purchase_id": purchase_id, "subtotal": paid, "coupon_discount": 0,
                  "paid": paid, "points_earned": points, "points_pending": False, "points_spent": 0,
                  "points_value": 0, "growth_added": points, "tier": {"code": "normal"}, "tier_change": None,
                  "balance": available + points - debt, "applied_rules": [{"name": "base", "points": points}]}
        key, expires = f"pos-purchase:{purchase_id}", now + timedelta(days=365)
        conn.execute(_WRITES["entry"], (entry_id, member_id, points, key, str(purchase_id), available + points - debt,
                                        expires, f"order {order_no}", now))
        conn.execute(_WRITES["purchase"], (purchase_id, store_id, order_no, member_id, body["operator_id"],
                                           "0" * 64, paid, paid, points, points, entry_id, Json(answer), now))
        with conn.cursor() as cursor:
            cursor.executemany(_WRITES["line"], [(purchase_id, sku, sku, "bench", qty, price, price, qty * price)
                                                 for sku, qty, price in body["lines"]])
        conn.execute(_WRITES["lot"], (member_id, entry_id, points, points, now, expires, now))
        conn.execute(_WRITES["account"], (available + points, now, member_id))
        conn.execute(_WRITES["rule_use"], (purchase_id, member_id, body["rule_id"], now.date(), points))
        conn.execute(_WRITES["member"], (growth + points, purchases + 1, member_id))
        conn.execute(_WRITES["growth"], (member_id, points, growth + points, key, now))
        conn.execute(_WRITES["notification"], (member_id, f"points_credited:{entry_id}",
                                               Json({"points": points, "balance": available + points - debt,
                                                     "reason": f"消费 {order_no}"}), now))
    return app.response_class(json.dumps(answer), status=201, mimetype="application/json")
