"""What every till request reads and marketing rarely changes (the points policy, the products with their
member prices, the active earn rules, the tier ladder, the active task definitions), kept per process and
checked against a version token once per transaction.

Loading them through the ORM on every quote and purchase cost three queries and a good part of a
purchase's CPU. The copy is correct across any number of API processes because the token lives in the
database: every insert, update or delete of a policy, product or earn rule (whoever makes it, through the
ORM) writes a new random token in the same transaction (`watch`), so a process sees the change exactly when
the data is committed. A request reads the token first and then, if it differs, the data: a change
committed in between is stored under the older token and simply reloaded by the next request. Without a
token row (a fresh test database) nothing is cached. Writes that bypass the ORM must call `bump`.

Within one transaction the copy is read once (the purchase's quote, its points expiry, its growth and tier
change and the first-purchase task all use the same one): the memo is kept with the session's transaction
and dropped by any ORM write of a watched row in that session (flushed or pending), so a transaction sees
its own changes.

The tier ladder belongs to the members domain (members.tiers.service.ladder_copy reads it from here), the
task definitions to the tasks domain (tasks.service.running: a first purchase asks for the first-purchase
and invite tasks, a check-in for the check-in task): one cache with one token, not a second mechanism.

The copies are plain read-only namespaces, not ORM objects: they never touch a session.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import object_session

from app.extensions import db
from members.models import Tier
from points.models import ConfigVersion, EarnRule, PointsPolicy, Product
from tasks.models import TaskDefinition

WATCHED = (PointsPolicy, Product, EarnRule, Tier, TaskDefinition)
_version = ConfigVersion.__table__


@dataclass(frozen=True)
class Config:
    policy: SimpleNamespace
    products: dict[str, SimpleNamespace]  # by SKU, active or not
    earn_rules: tuple[SimpleNamespace, ...]  # active ones
    tiers: tuple[SimpleNamespace, ...]  # the ladder, lowest rank first
    tasks: tuple[SimpleNamespace, ...]  # active task definitions, in display order


_cache: dict[str, tuple[str, Config]] = {}  # database URL -> (token, copy)
_lock = threading.Lock()
_MEMO = "points.config"  # session.info: (the transaction that read the copy, the copy)


def _copy(row) -> SimpleNamespace:
    return SimpleNamespace(**{attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs})


def _load() -> Config:
    from points import service as ledger

    return Config(
        policy=_copy(ledger.get_policy()),
        products={p.sku: _copy(p) for p in db.session.scalars(select(Product))},
        earn_rules=tuple(_copy(r) for r in db.session.scalars(select(EarnRule).where(EarnRule.active.is_(True))
                                                              .order_by(EarnRule.id))),
        tiers=tuple(_copy(t) for t in db.session.scalars(select(Tier).order_by(Tier.rank.asc()))),
        tasks=tuple(_copy(t) for t in db.session.scalars(select(TaskDefinition).where(TaskDefinition.active.is_(True))
                                                         .order_by(TaskDefinition.display_order, TaskDefinition.id))),
    )


def current() -> Config:
    """The policy, products, active earn rules and tiers as committed now: one one-row query when cached,
    none when this transaction has read them already."""
    session = db.session()
    memo = session.info.get(_MEMO)
    if memo is not None and memo[0] is session.get_transaction() and memo[0].is_active and not _pending(session):
        return memo[1]
    config = _current()
    session.info[_MEMO] = (session.get_transaction(), config)
    return config


def _pending(session) -> bool:
    """A watched row changed in this session but not flushed yet: the token query's autoflush will write it
    (and bump the token), so the memo must not answer for it."""
    return any(isinstance(obj, WATCHED) for obj in (*session.new, *session.dirty, *session.deleted))


_TOKEN = select(_version.c.token).where(_version.c.id == 1)


def _current() -> Config:
    token = db.session.execute(_TOKEN).scalar()
    key = db.engine.url.render_as_string(hide_password=True)
    if token is not None:
        cached = _cache.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
    config = _load()
    if token is not None:
        with _lock:
            _cache[key] = (token, config)
    return config


def bump(connection: Connection) -> None:
    """A new token, in the caller's transaction: every process reloads once it is committed."""
    token = uuid.uuid4().hex
    if connection.execute(update(_version).where(_version.c.id == 1).values(token=token)).rowcount:
        return
    construct = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(construct(_version).values(id=1, token=token)
                       .on_conflict_do_update(index_elements=["id"], set_={"token": token}))


def _on_write(mapper, connection, target) -> None:
    bump(connection)
    session = object_session(target)
    if session is not None:  # this transaction must see its own change
        session.info.pop(_MEMO, None)


def watch() -> None:
    """Bump the token on every ORM write of a watched row (called once, by the app factory)."""
    for model in WATCHED:
        for name in ("after_insert", "after_update", "after_delete"):
            if not event.contains(model, name, _on_write):
                event.listen(model, name, _on_write)
