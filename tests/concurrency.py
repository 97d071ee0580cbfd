"""Fire requests from many threads at once, each in its own app context (its own session/connection)."""
from __future__ import annotations

import threading

from app.extensions import db


def end_test_transaction() -> None:
    """Commit the test's own transaction before threads race. On SQLite every transaction holds the database's
    write lock from its first statement (app/extensions.py), and the test's session, which its test client's
    requests share, may have read since its last commit: every thread would wait on it until the busy timeout.
    On PostgreSQL a transaction that only read blocks nobody."""
    db.session.commit()


def fire(app, calls: list[tuple[str, str, dict, dict | None]]) -> list[tuple[int, dict]]:
    """calls: (method, path, headers, json) -> [(status, body)] in the same order."""
    end_test_transaction()
    barrier = threading.Barrier(len(calls), timeout=60)
    results: list = [None] * len(calls)

    def run(index: int, method: str, path: str, headers: dict, body: dict | None) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            response = client.open(path, method=method, headers=headers, json=body)
            results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results
