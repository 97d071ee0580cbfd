"""What every till request reads and marketing rarely changes (the points policy, the products with their
member prices, the active earn rules, the tier ladder, the active task definitions), kept per process and
checked against a version token once per transaction.

Loading them through the ORM on every quote and purchase cost three queries and a good part of a
purchase's CPU. The copy is correct across any number of API processes because the token lives in the
database: every insert, update or delete of a watched row (whoever makes it, through the ORM) writes a new
random token in the same transaction, so a process sees the change exactly when the data is committed. A
request reads the token first and then, if it differs, the data: a change committed in between is stored
under the older token and simply reloaded by the next request. Without a token row (a fresh test database)
nothing is cached. Writes that bypass the ORM must call `bump`.

Each domain registers its own slice (`register(name, load, watched)`): the points policy (points), the
products (catalog), the earn rules (till), the ladder (tiers), the task definitions (tasks). This module
knows none of them, so the cache sits at the bottom of the layers and every domain above can use it. A
slice is loaded the first time it is asked for under a token.

Within one transaction each slice is read once (the purchase's quote, its points expiry, its growth and tier
change and the first-purchase task all use the same copies): the memo is kept with the session's
transaction and dropped by any ORM write of a watched row in that session (flushed or pending), so a
transaction sees its own changes.

The copies are plain read-only namespaces, not ORM objects: they never touch a session.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, object_session

from app.extensions import db


class ConfigVersion(db.Model):
    """One row whose token changes in the same transaction as any write of a watched row (see `register`):
    each API process compares it with the token of its cached copies."""

    __tablename__ = "points_config_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True)
class Slice:
    name: str
    load: Callable[[], Any]  # reads the committed rows and returns read-only copies
    watched: tuple[type, ...]


_slices: dict[str, Slice] = {}
_watched: set[type] = set()
_cache: dict[str, tuple[str, dict[str, Any]]] = {}  # database URL -> (token, {slice name: copy})
_lock = threading.Lock()
_MEMO = "config_cache"  # session.info: (the transaction that read the token, {slice name: copy})
_version = ConfigVersion.__table__
_TOKEN = select(_version.c.token).where(_version.c.id == 1)


def copy_row(row) -> SimpleNamespace:
    """A read-only copy of an ORM row's columns."""
    return SimpleNamespace(**{attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs})


def register(name: str, load: Callable[[], Any], watched: tuple[type, ...]) -> Callable[[], Any]:
    """Declare a slice (at import of the owning domain's module) and return its reader: `reader()` gives
    the slice as committed now (as this transaction sees it)."""
    _slices[name] = Slice(name, load, watched)
    for model in watched:
        _watch(model)
    return lambda: get(name)


def get(name: str) -> Any:
    """The slice as committed now: one one-row query per transaction when cached, none when this
    transaction has read the token already."""
    session = db.session()
    memo = session.info.get(_MEMO)
    if memo is None or memo[0] is not session.get_transaction() or not memo[0].is_active or _pending(session):
        copies = _current()  # its query begins the transaction the memo belongs to
        memo = (session.get_transaction(), copies)
        session.info[_MEMO] = memo
    copies = memo[1]
    if name not in copies:
        copies[name] = _slices[name].load()
    return copies[name]


def _pending(session) -> bool:
    """A watched row changed in this session but not flushed yet: the token query's autoflush will write it
    (and bump the token), so the memo must not answer for it."""
    return any(type(obj) in _watched for obj in (*session.new, *session.dirty, *session.deleted))


def _current() -> dict[str, Any]:
    token = db.session.execute(_TOKEN).scalar()
    if token is None:
        return {}  # nothing is cached without a token row: read fresh, this transaction only
    key = db.engine.url.render_as_string(hide_password=True)
    cached = _cache.get(key)
    if cached is not None and cached[0] == token:
        return cached[1]
    copies: dict[str, Any] = {}  # filled as slices are asked for (a lost race loads one twice, never wrongly)
    with _lock:
        _cache[key] = (token, copies)
    return copies


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


def _watch(model: type) -> None:
    """Bump the token on every ORM write of a watched row."""
    _watched.add(model)
    for name in ("after_insert", "after_update", "after_delete"):
        if not event.contains(model, name, _on_write):
            event.listen(model, name, _on_write)
