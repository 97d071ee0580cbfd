"""The rotating member code shown in the mini-program and scanned at the till.

An 18-digit number (any barcode or QR scanner reads it) that changes every step (30 s). It is the
member id and a 28-bit HMAC tag of (member id, time step, the member's code nonce), put through a keyed
Feistel permutation of 60 bits (cycle-walked into 10^18) so nobody without the server secret can read the
member id from it, and the server needs no table to resolve it. The current and the previous step are
accepted. Forging means guessing a 28-bit tag for a given member: one chance in 268 million per try.

A code is used once: a purchase consumes it (a row in consumed_member_codes, whose primary key decides a
race) and moves the member's nonce on, so the code /me/code shows next is a new one at once, not after
the step ends, and the used one never matches again. Only ASCII digits are a code: the same number in
full-width or Arabic-Indic digits is another string, which the consumed row would not have caught.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app import jobs as job_runtime
from app.errors import Conflict, NotFound
from app.extensions import db
from app.fields import MAX_ID
from members.models import ConsumedMemberCode, Member

DOMAIN = 10**18
TAG_BITS = 28
TAG_MASK = (1 << TAG_BITS) - 1
HALF_BITS = 30
HALF_MASK = (1 << HALF_BITS) - 1
ROUNDS = 4
PURGE_AFTER = timedelta(days=1)  # far past the two 30-second steps a code is accepted in
_CODE = re.compile(r"[0-9]{18}")  # ASCII only: str.isdigit() also takes '２' and '²'


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    refresh_at: datetime


def _key(purpose: str) -> bytes:
    secret = current_app.config["MEMBER_CODE_SECRET"].encode()
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def _round(key: bytes, index: int, half: int) -> int:
    digest = hmac.new(key, f"{index}:{half}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & HALF_MASK


def _permute(key: bytes, value: int) -> int:
    left, right = value >> HALF_BITS, value & HALF_MASK
    for index in range(ROUNDS):
        left, right = right, left ^ _round(key, index, right)
    return (left << HALF_BITS) | right


def _unpermute(key: bytes, value: int) -> int:
    left, right = value >> HALF_BITS, value & HALF_MASK
    for index in reversed(range(ROUNDS)):
        left, right = right ^ _round(key, index, left), left
    return (left << HALF_BITS) | right


def _tag(member_id: int, step: int, nonce: int) -> int:
    # Nonce 0 signs what the codes signed before the nonce existed, so codes on screens stay valid over a deploy.
    message = f"{member_id}:{step}" if nonce == 0 else f"{member_id}:{step}:{nonce}"
    digest = hmac.new(_key("tag"), message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & TAG_MASK


def _step_seconds() -> int:
    return int(current_app.config["MEMBER_CODE_STEP_SECONDS"])


def _current_step() -> int:
    return int(clock.now().timestamp()) // _step_seconds()


def issue(member_id: int) -> IssuedCode:
    """The member's code for the current step and nonce, and when it stops being accepted."""
    if not 0 < member_id < (DOMAIN >> TAG_BITS):
        raise ValueError("member id out of the code's range")
    nonce = db.session.scalar(select(Member.code_nonce).where(Member.id == member_id))
    if nonce is None:
        raise NotFound("No such member.", code="member_not_found")
    step = _current_step()
    key = _key("permutation")
    value = _permute(key, (member_id << TAG_BITS) | _tag(member_id, step, nonce))
    while value >= DOMAIN:  # cycle-walk back into the 18-digit domain
        value = _permute(key, value)
    seconds = _step_seconds()
    return IssuedCode(
        code=f"{value:018d}",
        expires_at=datetime.fromtimestamp((step + 2) * seconds, UTC),
        refresh_at=datetime.fromtimestamp((step + 1) * seconds, UTC),
    )


def _used() -> Conflict:
    return Conflict("This member code was already used; ask for a fresh one.", code="member_code_used")


def resolve(code: str) -> Member:
    """Code -> member, or 404 `member_code_invalid` (forged, mistyped, expired, not ASCII digits), or 409
    `member_code_used`."""
    invalid = NotFound("This member code is not valid or has expired; ask for a fresh one.", code="member_code_invalid")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise invalid
    key = _key("permutation")
    value = _unpermute(key, int(code))
    while value >= DOMAIN:
        value = _unpermute(key, value)
    member_id, tag = value >> TAG_BITS, value & TAG_MASK
    member = db.session.get(Member, member_id) if 0 < member_id <= MAX_ID else None  # 2**32 would be a 500
    if member is None:
        raise invalid
    step = _current_step()

    def signed_with(nonce: int) -> bool:
        return any(hmac.compare_digest(str(tag), str(_tag(member_id, s, nonce))) for s in (step, step - 1))

    if not signed_with(member.code_nonce):
        if member.code_nonce > 0 and signed_with(member.code_nonce - 1):  # the code just used: say so
            raise _used()
        raise invalid
    if db.session.get(ConsumedMemberCode, code) is not None:
        raise _used()
    return member


def consume(code: str, purpose: str) -> Member:
    """Resolve and burn the code inside the caller's transaction, and move the member's nonce on so their
    next code is a fresh one; a replay gets 409 `member_code_used`.

    The primary key on consumed_member_codes decides a race: the loser's savepoint fails and it gets 409.
    The savepoint lives in the caller's transaction (on SQLite too: app.extensions begins every transaction
    itself), so a purchase refused afterwards burns nothing.
    """
    member = resolve(code)
    try:
        with db.session.begin_nested():
            db.session.add(ConsumedMemberCode(code=code, member_id=member.id, purpose=purpose))
            db.session.execute(update(Member).where(Member.id == member.id)
                               .values(code_nonce=Member.code_nonce + 1))
    except IntegrityError:
        raise _used() from None
    return member


def purge_consumed(older_than: timedelta = PURGE_AFTER, batch_size: int = 5000) -> dict:
    """Delete the record of codes used long ago, in batches: a code is accepted only within its step and the
    one before (about a minute), so an old row stops no replay; kept forever it would be a row per purchase."""
    cutoff = clock.now() - older_than
    counts = job_runtime.zero_counts()
    while True:
        codes = list(db.session.scalars(select(ConsumedMemberCode.code)
                                        .where(ConsumedMemberCode.consumed_at < cutoff).limit(batch_size)))
        if not codes:
            return counts
        db.session.execute(delete(ConsumedMemberCode).where(ConsumedMemberCode.code.in_(codes)))
        db.session.commit()
        counts["scanned"] += len(codes)
        counts["changed"] += len(codes)
        job_runtime.batch_done(counts)
