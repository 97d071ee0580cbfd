"""The ledger: every change of points goes through these functions (ARCHITECTURE rules 2-5).

Each public function locks the member's account row first (SELECT ... FOR UPDATE on PostgreSQL), so all
changes of one member are serialized; then checks the business key, so a retry returns the first entry
and changes nothing; then moves lots and the cached account in the same transaction as the ledger row.
They do not commit: the calling service commits its whole operation (purchase, redemption, grant) at once.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, union_all, update

from app import clock, config_cache, events, fast_writes, pipeline
from app.db_types import UTCDateTime
from app.errors import Conflict, NotFound
from app.extensions import db
from app.sql import any_of, insert_ignore, insert_many
from members.models import Member
from points.models import CREDIT_KINDS, DEBIT_KINDS, LedgerEntry, LotDraw, PointsAccount, PointsLot, PointsPolicy

EXPIRING_SOON_DAYS = 30


class InsufficientPoints(Conflict):
    code = "insufficient_points"


# --- policy -------------------------------------------------------------------------------------------

def get_policy() -> PointsPolicy:
    """The policy row, created with the defaults on first use (concurrent first uses insert it once)."""
    policy = db.session.get(PointsPolicy, 1)
    if policy is None:
        db.session.execute(insert_ignore(PointsPolicy.__table__).values(id=1))
        policy = db.session.get(PointsPolicy, 1)
    return policy


policy_copy = config_cache.register("points_policy", lambda: config_cache.copy_row(get_policy()), (PointsPolicy,))


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expiry_for(earned_at: datetime, policy: PointsPolicy | SimpleNamespace | None = None) -> datetime | None:
    """When points earned at `earned_at` expire: the end of a business day, per the policy (by default the
    cached copy this transaction reads anyway: a credit inside a purchase costs no policy query)."""
    if policy is None:
        policy = policy_copy()
    earned_day = clock.to_business_date(earned_at)
    if policy.expiry_kind == "never":
        return None
    if policy.expiry_kind == "year_end":  # 年底清零: end of 31 December of the Nth calendar year
        last_day = earned_day.replace(year=earned_day.year + max(policy.expiry_years, 1) - 1, month=12, day=31)
        return clock.end_of_business_day(last_day)
    return clock.end_of_business_day(_add_months(datetime.combine(earned_day, datetime.min.time()),
                                                 policy.expiry_months).date())


# --- accounts -----------------------------------------------------------------------------------------

_LOCK_ONE = (select(PointsAccount).where(PointsAccount.member_id == bindparam("member_id")).with_for_update()
             .execution_options(populate_existing=True))


def _select_locked(member_ids: list[int]) -> dict[int, PointsAccount]:
    """FOR UPDATE in member id order: the one order every writer of several accounts uses (expiry, grants),
    so two batches never deadlock. populate_existing: a re-lock sees what another transaction committed.
    One account (every till request) by a statement built once."""
    if len(member_ids) == 1:
        accounts = db.session.scalars(_LOCK_ONE, {"member_id": member_ids[0]})
    else:
        accounts = db.session.scalars(
            select(PointsAccount).where(any_of(PointsAccount.member_id, member_ids)).order_by(PointsAccount.member_id)
            .with_for_update().execution_options(populate_existing=True))
    return {account.member_id: account for account in accounts}


def lock_accounts(member_ids: Iterable[int]) -> dict[int, PointsAccount]:
    """The members' account rows, created if missing, locked until the transaction ends.

    The common case (the accounts exist) is one SELECT ... FOR UPDATE. A first touch inserts the missing
    accounts of known members only (INSERT .. SELECT FROM members .. ON CONFLICT DO NOTHING), so an unknown
    member is a 404 without a failed statement that would abort the caller's transaction on PostgreSQL,
    and a concurrent first insert is simply ignored."""

    ids = sorted(set(member_ids))
    held = {member_id: account for member_id in ids if (account := _held(member_id)) is not None}
    to_lock = [member_id for member_id in ids if member_id not in held]
    if not to_lock:
        return held
    accounts = _select_locked(to_lock)
    missing = [member_id for member_id in to_lock if member_id not in accounts]
    if missing:
        columns = PointsAccount.__table__.c
        db.session.execute(insert_ignore(PointsAccount.__table__).from_select(
            [columns.member_id, columns.available, columns.pending, columns.debt, columns.updated_at],
            select(Member.id, literal(0), literal(0), literal(0), literal(clock.now(), UTCDateTime))
            .where(any_of(Member.id, missing))))
        accounts.update(_select_locked(missing))
        if len(accounts) < len(to_lock):
            raise NotFound("No such member.", code="member_not_found")
    _remember(accounts.values())
    return held | accounts


_HELD = "points.held_locks"  # session.info: {member_id: (account, the transaction that locked it)}


def _held(member_id: int) -> PointsAccount | None:
    """The account this transaction already locked, if the lock still stands: the (nested) transaction
    that took it is still open. A savepoint rolled back releases its locks in PostgreSQL and its
    transaction object closes with it, so a lock taken inside one is never trusted afterwards."""
    held = db.session.info.get(_HELD)
    if held:
        found = held.get(member_id)
        if found is not None and found[1].is_active:
            return found[0]
    return None


def _remember(accounts: Iterable[PointsAccount]) -> None:
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    held = {k: v for k, v in session.info.get(_HELD, {}).items() if v[1].is_active}
    held.update((account.member_id, (account, transaction)) for account in accounts)
    session.info[_HELD] = held


def lock_account(member_id: int) -> PointsAccount:
    """One member's account, locked (see lock_accounts); no statement at all when this transaction already
    holds the lock (a purchase locks first, then spends, earns and pays task rewards under it)."""
    return lock_accounts([member_id])[member_id]


_LOCK_WITH_MEMBER = (select(Member, PointsAccount).join(PointsAccount, PointsAccount.member_id == Member.id)
                     .where(Member.id == bindparam("member_id")).with_for_update(of=PointsAccount)
                     .execution_options(populate_existing=True))


def lock_member_account(member_id: int) -> tuple[Member, PointsAccount]:
    """The member and their account, the account locked as `lock_account` does, in one statement: a till
    purchase that names its member by id read the member, then locked the account (two round trips and two
    statements' CPU). A member without an account yet, or unknown (404), takes the two-step path."""
    account = _held(member_id)
    if account is None:
        row = db.session.execute(_LOCK_WITH_MEMBER, {"member_id": member_id}).first()
        if row is not None:
            _remember([row[1]])
            return row[0], row[1]
    member = fast_writes.in_session(Member, member_id) or db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    return member, lock_account(member_id)


def find_entry(kind: str, business_key: str) -> LedgerEntry | None:
    return db.session.scalar(
        select(LedgerEntry).where(LedgerEntry.kind == kind, LedgerEntry.business_key == business_key)
    )


def _new_entry(account: PointsAccount, delta: int, kind: str, key: str, cause_type: str, cause_id,
               expires_at: datetime | None = None, note: str | None = None) -> LedgerEntry:
    """The ledger row of a change already applied to `account`: balance_after is read from the account here
    and only here, so the single and the batch paths cannot disagree about it."""
    return LedgerEntry(
        member_id=account.member_id, delta=delta, kind=kind, business_key=key, cause_type=cause_type,
        cause_id=None if cause_id is None else str(cause_id), balance_after=account.balance,
        expires_at=expires_at, note=note, created_at=clock.now(),
    )


def _write_entry(account: PointsAccount, delta: int, kind: str, key: str, cause_type: str, cause_id,
                 expires_at: datetime | None = None, note: str | None = None) -> LedgerEntry:
    entry = _new_entry(account, delta, kind, key, cause_type, cause_id, expires_at, note)
    db.session.add(entry)
    db.session.flush()
    return entry


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"points amount must be a positive int, got {amount!r}")


def _add_lot(account: PointsAccount, amount: int, available_at: datetime, expires_at: datetime | None) -> PointsLot:
    """A new lot; available points first pay any debt (pending ones pay it when they activate)."""
    now = clock.now()
    lot = PointsLot(member_id=account.member_id, entry_id=0, amount=amount, remaining=amount,
                    available_at=available_at, expires_at=expires_at, created_at=now)
    if available_at > now:
        lot.state = "pending"
        account.pending += amount
    else:
        paid = min(account.debt, amount)
        account.debt -= paid
        lot.remaining = amount - paid
        lot.state = "open" if lot.remaining else "closed"
        account.available += lot.remaining
    return lot


def _drawable_lots(member_id: int, exclude_entry_id: int | None = None) -> list[PointsLot]:
    """Open lots, soonest expiry first (never-expiring last), oldest first among equals."""
    now = clock.now()
    stmt = (
        select(PointsLot)
        .where(PointsLot.member_id == member_id, PointsLot.state == "open", PointsLot.remaining > 0,
               or_(PointsLot.expires_at.is_(None), PointsLot.expires_at > now))
        .order_by(PointsLot.expires_at.asc().nulls_last(), PointsLot.id.asc())
    )
    if exclude_entry_id is not None:
        stmt = stmt.where(PointsLot.entry_id != exclude_entry_id)
    return list(db.session.scalars(stmt))


def _expire_due_lots(account: PointsAccount) -> None:
    """Expire this member's lots whose end has passed before spending, so nobody spends expired points.

    Uses the same business key as the expiry job (`lot:<id>`), so whichever runs first writes the row.
    """
    now = clock.now()
    due = db.session.scalars(
        select(PointsLot).where(PointsLot.member_id == account.member_id, PointsLot.state == "open",
                                PointsLot.expires_at.is_not(None), PointsLot.expires_at <= now)
        .order_by(PointsLot.id)
    )
    for lot in due:
        amount = lot.remaining
        lot.remaining, lot.state = 0, "closed"
        if amount:
            account.available -= amount
            _write_entry(account, -amount, "expire", f"lot:{lot.id}", "lot", lot.id, lot.expires_at)


# --- the public ledger operations ---------------------------------------------------------------------

@dataclass(frozen=True)
class Credit:
    """One credit of a batch (see credit_many)."""

    member_id: int
    amount: int
    key: str
    cause_type: str
    cause_id: int | str | None = None
    note: str | None = None


def credit(member_id: int, amount: int, *, kind: str, key: str, cause_type: str, cause_id=None,
           available_at: datetime | None = None, expires_at: datetime | None = None,
           note: str | None = None, new_key: bool = False) -> LedgerEntry:
    """Add points as a new lot. `available_at` in the future makes them pending (the return window);
    `expires_at` defaults to the policy's expiry counted from now. Idempotent by (kind, key).

    `new_key`: the caller knows no entry can carry this key (it names a row inserted by this very
    transaction), so the lookup is skipped; the unique (kind, business_key) still refuses a duplicate."""
    return credit_many(kind, [Credit(member_id, amount, key, cause_type, cause_id, note)],
                       available_at=available_at, expires_at=expires_at, new_keys=new_key)[0][0]


def credit_many(kind: str, credits: list[Credit], *, available_at: datetime | None = None,
                expires_at: datetime | None = None, new_keys: bool = False) -> list[tuple[LedgerEntry, bool]]:
    """Credit many members at once (the grant jobs), with the same rules as one credit: it is `credit`'s
    only implementation. Returns (entry, created) per credit, in order; a key already in the ledger
    (or repeated in `credits`) returns the first entry and changes nothing.

    The statements do not grow with the batch: lock the accounts (one SELECT ... FOR UPDATE in member id
    order), read which keys exist (one SELECT; stable, since every credit of a member holds its account
    lock first), then one flush inserts the entries, another the lots and the account updates. Lots and
    balance_after are computed account by account in order, so several credits of one member stack."""
    if kind not in CREDIT_KINDS:
        raise ValueError(f"{kind} is not a credit kind")
    for item in credits:
        _check_amount(item.amount)
    if not credits:
        return []
    accounts = lock_accounts(item.member_id for item in credits)
    found: dict[str, LedgerEntry] = {}
    keys = [] if new_keys else sorted({item.key for item in credits})
    for start in range(0, len(keys), 1000):
        found.update((e.business_key, e) for e in db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.kind == kind, any_of(LedgerEntry.business_key, keys[start:start + 1000]))))
    now = clock.now()
    expires = expires_at if expires_at is not None else expiry_for(now)
    created: dict[str, tuple[LedgerEntry, PointsLot]] = {}
    for item in credits:
        if item.key in found or item.key in created:
            continue
        account = accounts[item.member_id]
        lot = _add_lot(account, item.amount, available_at or now, expires)
        entry = _new_entry(account, item.amount, kind, item.key, item.cause_type, item.cause_id, expires, item.note)
        created[item.key] = (entry, lot)
    if created:
        _insert_entries_and_lots(list(created.values()))
        _save_accounts({entry.member_id: accounts[entry.member_id] for entry, _ in created.values()}.values())
        if kind != "earn":  # a purchase's earn is announced by purchase_recorded, with its order number
            events.points_credited.send(None, credits=[
                {"member_id": entry.member_id, "entry_id": entry.id, "amount": entry.delta,
                 "balance": entry.balance_after, "reason": entry.note or entry.cause_type}
                for entry, _ in created.values()])
    results, seen = [], set()
    for item in credits:
        if item.key in created and item.key not in seen:
            seen.add(item.key)
            results.append((created[item.key][0], True))
        else:
            results.append((found[item.key] if item.key in found else created[item.key][0], False))
    return results


_ENTRY_COLUMNS = fast_writes.insert_columns(LedgerEntry.__table__)
_LOT_COLUMNS = fast_writes.insert_columns(PointsLot.__table__)
_INSERT_ENTRY = insert(LedgerEntry.__table__).returning(LedgerEntry.__table__.c.id)
_INSERT_ENTRIES = insert(LedgerEntry.__table__).returning(LedgerEntry.__table__.c.id, sort_by_parameter_order=True)
_INSERT_LOTS = pipeline.queued(insert(PointsLot.__table__))  # nothing reads these answers (app.pipeline)


def _insert_entries_and_lots(rows: list[tuple[LedgerEntry, PointsLot]]) -> None:
    """Insert new entries and their lots with two Core statements built once (the entries' ids come back by
    RETURNING, in parameter order for a batch) instead of two unit-of-work flushes, which cost a credit most
    of its CPU. The entries become persistent objects of the session without another statement (the caller
    gets them back, and a later get() in this transaction finds them); the lots are not needed as objects."""
    values = [{name: getattr(entry, name) for name in _ENTRY_COLUMNS} for entry, _ in rows]
    if len(values) == 1:  # one credit (a purchase, a task): a plain INSERT .. RETURNING, not the batch form
        ids = [db.session.execute(_INSERT_ENTRY, values[0]).scalar_one()]
    else:
        ids = db.session.execute(_INSERT_ENTRIES, values).scalars().all()
    for (entry, lot), entry_id in zip(rows, ids, strict=True):
        entry.id = lot.entry_id = entry_id
        fast_writes.adopt(entry)
    lots = [{name: getattr(lot, name) for name in _LOT_COLUMNS} for _, lot in rows]
    db.session.execute(_INSERT_LOTS, lots[0] if len(lots) == 1 else lots)


_accounts = PointsAccount.__table__
BALANCES = ("available", "pending", "debt", "updated_at")  # every column but the key: tests/test_fast_writes.py
_SAVE_ACCOUNT = pipeline.queued(update(_accounts).where(_accounts.c.member_id == bindparam("account_id")).values(
    **{name: bindparam(f"new_{name}") for name in BALANCES}))


def _save_accounts(accounts: Iterable[PointsAccount]) -> None:
    """Write the changed accounts now with one Core statement (executemany) and mark the objects clean, so
    no unit-of-work flush writes them again: a flush is most of a small credit's CPU, and a purchase or a
    task reward would otherwise update its account at the savepoint and once more at commit. Every balance
    column is written, so changes made earlier in the transaction and not flushed yet go out too."""
    now = clock.now()
    rows = []
    for account in accounts:
        account.updated_at = now
        rows.append({"account_id": account.member_id, **{f"new_{name}": getattr(account, name) for name in BALANCES}})
    if not rows:
        return
    db.session.execute(_SAVE_ACCOUNT, rows)
    for account in accounts:
        fast_writes.mark_written(account, BALANCES)


@dataclass(frozen=True)
class OpeningLot:
    """Points a member brings from the brand's old system, valid until `expires_at` (None: never)."""

    amount: int
    expires_at: datetime | None


def open_balances(balances: dict[int, list[OpeningLot]], *, cause_type: str, cause_id: int | str,
                  note: str = "opening balance") -> int:
    """The opening balances of members created by the caller's transaction (an import), set-based: one
    `opening` ledger entry per member (business key `opening:<member id>`: a member opens once, whichever batch
    tries again), one open lot per `OpeningLot` keeping its own expiry, and the account. Three INSERTs per
    call whatever its size (app.sql.insert_many). No `points_credited` announcement: an opening balance is not
    news to the shopper, and a million WeChat messages would be spam. Returns the points written.

    The accounts must not exist yet (the members are new in this transaction, so nobody else can have touched
    them): a second opening of one member fails on the accounts' primary key or the entry's unique key, and
    the caller's transaction rolls back whole."""
    now = clock.now()
    rows = {member_id: lots for member_id, lots in balances.items() if lots}
    for lots in rows.values():
        for lot in lots:
            _check_amount(lot.amount)
            if lot.expires_at is not None and lot.expires_at <= now:
                raise ValueError(f"an opening lot must not have expired: {lot.expires_at.isoformat()}")
    if not rows:
        return 0
    totals = {member_id: sum(lot.amount for lot in lots) for member_id, lots in rows.items()}
    insert_many(PointsAccount.__table__, [
        {"member_id": member_id, "available": total, "pending": 0, "debt": 0, "updated_at": now}
        for member_id, total in totals.items()])
    entry_ids = dict(insert_many(LedgerEntry.__table__, [
        {"member_id": member_id, "delta": totals[member_id], "kind": "opening", "business_key": f"opening:{member_id}",
         "cause_type": cause_type, "cause_id": str(cause_id), "balance_after": totals[member_id],
         "expires_at": _earliest(lots), "note": note, "created_at": now}
        for member_id, lots in rows.items()], returning=("member_id", "id")))
    insert_many(PointsLot.__table__, [
        {"member_id": member_id, "entry_id": entry_ids[member_id], "amount": lot.amount, "remaining": lot.amount,
         "state": "open", "available_at": now, "expires_at": lot.expires_at, "created_at": now}
        for member_id, lots in rows.items() for lot in lots])
    return sum(totals.values())


def _earliest(lots: list[OpeningLot]) -> datetime | None:
    """What the entry shows as its expiry: the soonest of its lots (None only when none expires)."""
    dated = [lot.expires_at for lot in lots if lot.expires_at is not None]
    return min(dated) if dated else None


def debit(member_id: int, amount: int, *, kind: str, key: str, cause_type: str, cause_id=None,
          note: str | None = None, new_key: bool = False) -> LedgerEntry:
    """Spend points FIFO by expiry, recording which lots were drawn. 409 `insufficient_points` if the
    member's available points (after expiring what is due) do not cover it. Idempotent by (kind, key);
    `new_key` as in `credit`."""
    if kind not in DEBIT_KINDS:
        raise ValueError(f"{kind} is not a debit kind")
    _check_amount(amount)
    account = lock_account(member_id)
    existing = None if new_key else find_entry(kind, key)
    if existing is not None:
        return existing
    _expire_due_lots(account)
    if account.available < amount:
        raise InsufficientPoints(f"Only {account.available} points are available; {amount} needed.")
    account.available -= amount
    entry = _write_entry(account, -amount, kind, key, cause_type, cause_id, note=note)
    left = amount
    for lot in _drawable_lots(member_id):
        take = min(lot.remaining, left)
        lot.remaining -= take
        if lot.remaining == 0:
            lot.state = "closed"
        db.session.add(LotDraw(entry_id=entry.id, lot_id=lot.id, amount=take))
        left -= take
        if left == 0:
            break
    if left:  # the cache said yes but the lots say no: never paper over a drift
        raise RuntimeError(f"ledger drift for member {member_id}: lots short by {left}")
    db.session.flush()
    events.points_debited.send(None, member_id=member_id, entry_id=entry.id, amount=amount,
                               balance=account.available, kind=kind, cause_type=cause_type, cause_id=cause_id)
    return entry


def restore(debit_entry_id: int, amount: int, *, key: str, cause_type: str, cause_id=None,
            note: str | None = None) -> LedgerEntry:
    """Give back points a debit took (refund of points used, cancelled redemption) as new lots that
    keep the original lots' expiry. Idempotent by key; never returns more than was drawn."""
    _check_amount(amount)
    source = db.session.get(LedgerEntry, debit_entry_id)
    if source is None or source.delta >= 0:
        raise ValueError("restore needs a debit entry")
    account = lock_account(source.member_id)
    existing = find_entry("refund", key)
    if existing is not None:
        return existing
    draws = list(db.session.scalars(
        select(LotDraw).where(LotDraw.entry_id == debit_entry_id, LotDraw.amount > LotDraw.returned)
        .order_by(LotDraw.id.desc())  # latest-expiring draw first: the most generous to the member
    ))
    if sum(d.amount - d.returned for d in draws) < amount:
        raise Conflict("More points than were spent cannot be returned.", code="restore_exceeds_spent")
    left, lots, earliest = amount, [], None
    for draw in draws:
        portion = min(draw.amount - draw.returned, left)
        if portion <= 0:
            continue
        draw.returned += portion
        original = db.session.get(PointsLot, draw.lot_id)
        lots.append(_add_lot(account, portion, clock.now(), original.expires_at))
        if original.expires_at is not None and (earliest is None or original.expires_at < earliest):
            earliest = original.expires_at
        left -= portion
        if left == 0:
            break
    entry = _write_entry(account, amount, "refund", key, cause_type, cause_id, earliest, note)
    for lot in lots:
        lot.entry_id = entry.id
        db.session.add(lot)
    db.session.flush()
    return entry


def reverse(member_id: int, amount: int, *, key: str, cause_type: str, cause_id=None,
            source_entry_id: int | None = None, note: str | None = None) -> LedgerEntry:
    """Take back earned points (a refund): first from the lot the source entry created, then FIFO from
    other lots; what cannot be taken becomes debt that later earnings pay first. Idempotent by key."""
    _check_amount(amount)
    account = lock_account(member_id)
    existing = find_entry("reverse", key)
    if existing is not None:
        return existing
    _expire_due_lots(account)
    left = amount
    taken: list[tuple[PointsLot, int]] = []
    own = []
    if source_entry_id is not None:
        own = list(db.session.scalars(select(PointsLot).where(
            PointsLot.entry_id == source_entry_id, PointsLot.state.in_(("pending", "open")), PointsLot.remaining > 0)))
    for lot in own + _drawable_lots(member_id, exclude_entry_id=source_entry_id):
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        if lot.state == "pending":
            account.pending -= take
        else:
            account.available -= take
        lot.remaining -= take
        if lot.remaining == 0:
            lot.state = "closed"
        taken.append((lot, take))
        left -= take
        if left == 0:
            break
    account.debt += left
    entry = _write_entry(account, -amount, "reverse", key, cause_type, cause_id, note=note)
    for lot, take in taken:
        db.session.add(LotDraw(entry_id=entry.id, lot_id=lot.id, amount=take))
    db.session.flush()
    return entry


def activate_lot(lot_id: int) -> bool:
    """Move one pending lot whose return window has ended to open (paying debt first). No ledger row:
    the points were counted when earned; only their state changes."""
    lot = db.session.get(PointsLot, lot_id)
    if lot is None:
        return False
    account = lock_account(lot.member_id)
    db.session.refresh(lot)
    if lot.state != "pending" or lot.available_at > clock.now():
        return False
    account.pending -= lot.remaining
    paid = min(account.debt, lot.remaining)
    account.debt -= paid
    lot.remaining -= paid
    lot.state = "open" if lot.remaining else "closed"
    account.available += lot.remaining
    db.session.flush()
    return True


# --- reading ------------------------------------------------------------------------------------------

def summary(member_id: int) -> dict:
    """The member's points as the mini-program and the till show them."""
    account = db.session.get(PointsAccount, member_id)
    available, pending, debt = (account.available, account.pending, account.debt) if account else (0, 0, 0)
    now = clock.now()
    soon = db.session.execute(
        select(func.coalesce(func.sum(PointsLot.remaining), 0), func.min(PointsLot.expires_at)).where(
            PointsLot.member_id == member_id, PointsLot.state == "open", PointsLot.remaining > 0,
            PointsLot.expires_at > now, PointsLot.expires_at <= now + timedelta(days=EXPIRING_SOON_DAYS))
    ).one()
    return {
        "balance": available - debt,
        "pending": pending,
        "debt": debt,
        "expiring_soon": int(soon[0]),
        "expiring_soon_at": clock.as_utc(soon[1]) if soon[1] is not None else None,
    }


def verify() -> list[dict]:
    """Every member whose cached account disagrees with the ledger or with the lots (empty = healthy).

    One statement: the ledger rows, the open and pending lots and the accounts are stacked (UNION ALL) and
    summed per member, and only the members with a problem come back; the database streams the rest, so a
    healthy ledger costs the client one empty answer at any size (loading every account as an object cost
    1M objects at 1M members: bench/README.md)."""
    lots = PointsLot.__table__
    accounts = PointsAccount.__table__
    names = ("member_id", "ledger_sum", "open_lots", "pending_lots", "available", "pending", "debt")

    def row(member_id, *values):
        return select(*(value.label(name) for name, value in zip(names, (member_id, *values), strict=True)))

    stacked = union_all(
        row(LedgerEntry.__table__.c.member_id, LedgerEntry.__table__.c.delta, *(literal(0) for _ in range(5))),
        row(lots.c.member_id, literal(0), case((lots.c.state == "open", lots.c.remaining), else_=0),
            case((lots.c.state == "pending", lots.c.remaining), else_=0), *(literal(0) for _ in range(3)))
        .where(lots.c.state.in_(("open", "pending"))),
        row(accounts.c.member_id, *(literal(0) for _ in range(3)), accounts.c.available, accounts.c.pending,
            accounts.c.debt),
    ).subquery()
    column = {name: stacked.c[name] for name in names}
    total = {name: func.sum(column[name]) for name in names[1:]}
    checks = {
        "ledger sum != available + pending - debt":
            total["ledger_sum"] != total["available"] + total["pending"] - total["debt"],
        "open lots != available": total["open_lots"] != total["available"],
        "pending lots != pending": total["pending_lots"] != total["pending"],
        "debt while points are available": and_(total["debt"] != 0, total["available"] != 0),
    }
    rows = db.session.execute(
        select(column["member_id"], *(total[name].label(name) for name in names[1:]),
               *(check.label(f"check_{n}") for n, check in enumerate(checks.values())))
        .group_by(column["member_id"]).having(or_(*checks.values())).order_by(column["member_id"]))
    drifts = []
    for row in rows:
        facts = {name: int(getattr(row, name)) for name in names[1:]}
        problems = [problem for n, problem in enumerate(checks) if getattr(row, f"check_{n}")]
        drifts.append({"member_id": row.member_id, "problems": problems, "ledger_sum": facts["ledger_sum"],
                       "account_balance": facts["available"] + facts["pending"] - facts["debt"],
                       "open_lots": facts["open_lots"], "available": facts["available"],
                       "pending_lots": facts["pending_lots"], "pending": facts["pending"], "debt": facts["debt"]})
    return drifts
