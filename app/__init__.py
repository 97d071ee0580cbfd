"""Application factory: config, extensions, one error envelope, every domain's blueprints and handlers."""
from __future__ import annotations

import importlib
import logging
import uuid

from flask import Flask, g, request

from app.errors import register_error_handlers
from app.extensions import api, db, limiter, migrate
from config import config_for

# Each domain module exposes `blueprints`; order is the order in the OpenAPI document.
API_MODULES = [
    "app.operators.api",
    "members.api",
    "members.tiers.api",
    "members.vip.api",
    "points.api",
    "points.mall.api",
    "tasks.api",
    "coupons.api",
    "reports.api",
    "app.audit.api",
    "app.job_runs.api",
]
# Domain modules that connect receivers to app.events (see app/events.py).
HANDLER_MODULES = [
    "members.handlers", "points.handlers", "tasks.handlers", "coupons.handlers", "reports.handlers",
    "app.notifications.handlers",
]
CLI_MODULES = ["app.cli", "points.cli", "members.cli", "coupons.cli", "reports.cli", "app.job_runs.cli"]


def _optional_module(name: str):
    """Domain modules not written yet are skipped, so each domain can land on its own."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
            raise
        return None


def create_app(mode: str | None = None, overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    config_class = config_for(mode)
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    app.json.ensure_ascii = False  # 普通会员, not \u666e\u901a
    app.json.sort_keys = False
    if hasattr(config_class, "check"):
        config_class.check(app.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from app import redis_store

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    redis_store.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_store.limiter_storage_uri(app.config["REDIS_URL"]))
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    register_error_handlers(app)

    @app.before_request
    def _request_id():
        for name in ("identity", "operator_username"):  # per request (an app context can outlive one, as in tests)
            g.pop(name, None)
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    from app.api_docs import blp as docs_assets_blp
    from app.health import blp as health_blp

    app.register_blueprint(health_blp)
    app.register_blueprint(docs_assets_blp)
    for name in API_MODULES:
        module = _optional_module(name)
        for blueprint in getattr(module, "blueprints", []):
            api.register_blueprint(blueprint)
    for name in HANDLER_MODULES:
        module = _optional_module(name)
        if module is not None and hasattr(module, "connect"):
            module.connect()
    for name in CLI_MODULES:
        module = _optional_module(name)
        for command in getattr(module, "commands", []):
            app.cli.add_command(command)
    return app
