"""Fire requests from many threads at once, each in its own app context (its own session/connection)."""
from __future__ import annotations

import threading


def fire(app, calls: list[tuple[str, str, dict, dict | None]]) -> list[tuple[int, dict]]:
    """calls: (method, path, headers, json) -> [(status, body)] in the same order."""
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
