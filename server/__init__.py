"""The composition root: the app factory that puts every layer together (docs/layers.md).

It sits on top of the layers because it names them all: each domain's blueprints, its event handlers and
its CLI commands. Nothing imports it but the entry points (wsgi.py, the RQ worker class, tests, benches).
"""
from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

import benefits.cli
import benefits.handlers
import card.api
import catalog.api
import console.pages
import console.session
import coupons.api
import coupons.handlers
import demo.cli
import distribution.api
import distribution.cli
import distribution.handlers
import mall.api
import marketing.api
import marketing.cli
import members.api
import notifications.handlers
import onboarding.api
import onboarding.cli
import points.api
import points.cli
import reports.api
import reports.cli
import tasks.api
import tasks.handlers
import tiers.api
import till.api
import vip.api
import vip.cli
import webhooks.api
import webhooks.handlers
from app import api_docs, health, inbound, redis_store
from app.api_keys import api as api_keys_api
from app.api_keys import service as api_keys
from app.audit import api as audit_api
from app.errors import register_error_handlers
from app.extensions import api, db, limiter, migrate
from app.job_runs import api as job_runs_api
from app.job_runs import cli as job_runs_cli
from app.operators import api as operators_api
from app.operators import cli as operators_cli
from config import config_for

# Each module exposes `blueprints`; this order is the order of the OpenAPI document.
API_MODULES = [operators_api, api_keys_api, members.api, card.api, tiers.api, vip.api, points.api, catalog.api,
               till.api, mall.api, tasks.api, coupons.api, marketing.api, distribution.api, reports.api, webhooks.api,
               onboarding.api, audit_api, job_runs_api]
# Modules that connect receivers to app.events (see app/events.py).
HANDLER_MODULES = [tasks.handlers, coupons.handlers, benefits.handlers, notifications.handlers,
                   distribution.handlers, webhooks.handlers]
# Server-rendered pages (plain Flask blueprints, not in the OpenAPI document).
PAGE_MODULES = [console.pages]
CLI_MODULES = [operators_cli, points.cli, benefits.cli, vip.cli, marketing.cli, reports.cli, job_runs_cli,
               distribution.cli, onboarding.cli, demo.cli]


def _limit_only_where_limited(app: Flask) -> None:
    """flask-limiter checks every request in a before_request hook, for default, application and blueprint
    limits. This app has none: its limits decorate the views that want them (logins, tasks), which check
    themselves when called. The hook only cost every other request ~0.1 ms of CPU (a till purchase among
    them, bench/README.md), so it is dropped unless such a limit is configured."""
    config = app.config
    if (config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION") or config.get("RATELIMIT_META")
            or limiter.limit_manager._blueprint_limits):
        return
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)


def create_app(mode: str | None = None, overrides: dict | None = None) -> Flask:
    app = Flask("app", instance_relative_config=False)
    config_class = config_for(mode)
    app.config.from_object(config_class)
    app.config.update(overrides or {})
    if hasattr(config_class, "check"):
        config_class.check(app.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if app.config["TRUSTED_PROXIES"]:  # the client's address for rate limits is what our proxies saw
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    @app.before_request
    def _request_id():
        """First of the hooks, so that every error, even one the input checks raise, names the request."""
        # per request (an app context can outlive one, as in tests)
        for name in ("identity", "identity_error", "operator_username", "api_key_name"):
            g.pop(name, None)
        g.request_id = inbound.request_id(request.headers.get("X-Request-ID"))

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    inbound.init_app(app)  # before any route and before the rate limiter's hook
    app.json.ensure_ascii = False  # 普通会员, not \u666e\u901a
    app.json.sort_keys = False

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    redis_store.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_store.limiter_storage_uri(app.config["REDIS_URL"]))
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme("apiKeySignature", {
        "type": "apiKey", "in": "header", "name": "X-Api-Key",
        "description": "A store POS's API key: X-Api-Key, X-Timestamp (Unix seconds, within 5 minutes), X-Nonce "
                       "(new each request) and X-Signature = hex HMAC-SHA256(secret, METHOD\\nPATH?QUERY\\n"
                       "sha256hex(body)\\nTIMESTAMP\\nNONCE); X-Store (a store code) for a key of every store. "
                       "See docs/pos_api_keys.md."})
    app.after_request(api_keys.record_call)
    register_error_handlers(app)
    console.session.csrf.init_app(app)

    app.register_blueprint(health.blp)
    app.register_blueprint(api_docs.blp)
    for module in API_MODULES:
        for blueprint in module.blueprints:
            api.register_blueprint(blueprint)
    _limit_only_where_limited(app)
    for module in PAGE_MODULES:
        for blueprint in module.blueprints:
            app.register_blueprint(blueprint)
    for module in HANDLER_MODULES:
        module.connect()
    for module in CLI_MODULES:
        for command in module.commands:
            app.cli.add_command(command)
    return app
