"""How every RQ job runs its domain code: inside an app context, with the app built once per process.

Job functions (in each domain's `jobs.py`) stay thin: `run_job("name", service_function, **ids)`.
Jobs receive ids and dates, never ORM objects. The workers issue adds run recording and retries here.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, has_app_context

_process_app: Flask | None = None


def _app() -> Flask:
    global _process_app
    if _process_app is None:
        from app import create_app

        _process_app = create_app()
    return _process_app


def run_job(name: str, func: Callable[..., Any], **kwargs: Any) -> Any:
    """Run `func(**kwargs)` for the job `name` (in the caller's app context when there is one)."""
    if has_app_context():
        return func(**kwargs)
    with _app().app_context():
        return func(**kwargs)
