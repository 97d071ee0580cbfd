"""The ceiling for bench/purchases.py: a minimal Flask endpoint doing one UPDATE and one INSERT in one
transaction on the same PostgreSQL, under the same gunicorn settings. Not part of the product."""
from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

from config import database_url

engine = create_engine(database_url(os.environ["DATABASE_URL"]), pool_size=5, max_overflow=10)
app = Flask(__name__)


@app.post("/ceiling")
def ceiling():
    body = request.get_json()
    with engine.begin() as conn:
        conn.execute(text("UPDATE points_accounts SET available = available + 1 WHERE member_id = :m"),
                     {"m": body["member_id"]})
        conn.execute(text("INSERT INTO bench_ceiling (member_id, order_no, created_at) VALUES (:m, :o, now())"),
                     {"m": body["member_id"], "o": body["order_no"]})
    return jsonify({"ok": True}), 201
