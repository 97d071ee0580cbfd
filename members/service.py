"""Member identity and profile rules: WeChat login, the unified member id, profile edits, phone binding."""
from __future__ import annotations

import secrets
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, events, fast_writes, wechat
from app.audit import service as audit
from app.auth import check_sessions_with, issue_token, revoked
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from members.models import Member, MemberIdentity, MemberTag, Tier

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 characters, no 0/O, 1/I: read aloud at a till


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


_MEMBER = select(Member).where(Member.id == bindparam("member_id"))


def get_member(member_id: int) -> Member:
    """The member of this session's identity map, else one read by a statement built once (session.get
    builds its query on every miss: half the CPU of a till's member lookup)."""
    member = fast_writes.in_session(Member, member_id)
    if member is None:
        member = db.session.execute(_MEMBER, {"member_id": member_id}).scalar()
    if member is None:
        raise NotFound("No such member.", code="member_not_found")
    return member


def identity_fields(member: Member) -> dict:
    """How a member is shown to themselves and to operators: the phone always masked."""
    return {"id": member.id, "nickname": member.nickname, "avatar_url": member.avatar_url, "gender": member.gender,
            "phone": mask_phone(member.phone), "birthday": member.birthday}


_SESSION = select(Member.tokens_valid_after).where(Member.id == bindparam("member_id"))


def _check_session(member_id: int, claims: dict) -> None:
    """A member token works while its member exists and it was issued after the last revocation."""
    row = db.session.execute(_SESSION, {"member_id": member_id}).first()
    if row is None:
        raise revoked("This member no longer exists.")
    if row.tokens_valid_after is not None and float(claims.get("iat", 0)) <= row.tokens_valid_after.timestamp():
        raise revoked("This session was ended; log in again.")


check_sessions_with("member", _check_session)


def revoke_sessions(member_id: int) -> Member:
    """End every session of a member (a lost phone, an account someone else used): each token issued until now is
    refused at its next request; a new login works. Audited."""
    member = get_member(member_id)
    before = {"tokens_valid_after": member.tokens_valid_after}
    member.tokens_valid_after = clock.now()
    audit.record("member.revoke_sessions", "member", member_id, before,
                 {"tokens_valid_after": member.tokens_valid_after})
    db.session.commit()
    return member


def entry_tier() -> Tier | None:
    return db.session.scalar(select(Tier).order_by(Tier.rank.asc()).limit(1))


def new_invite_code() -> str:
    """A fresh invite code (unique by the column: a clash fails the INSERT, whose caller tries again). One
    random byte per character: the alphabet has 32 letters, so `byte % 32` is uniform (an import makes a
    million of these, and secrets.choice per character cost more than the rest of a member's row)."""
    return "".join(INVITE_ALPHABET[byte % 32] for byte in secrets.token_bytes(8))


def _identify(code: str) -> dict:
    if current_app.config.get("TEST_LOGINS") and code.startswith("test-"):
        return {"openid": code, "unionid": None}
    return wechat.code_to_session(code)


def _find(kind: str, app_id: str, value: str | None) -> Member | None:
    if not value:
        return None
    return db.session.scalar(
        select(Member).join(MemberIdentity, MemberIdentity.member_id == Member.id).where(
            MemberIdentity.kind == kind, MemberIdentity.app_id == app_id, MemberIdentity.value == value
        )
    )


def add_tag(member_id: int, tag: str, source: str = "auto") -> None:
    """Attach a tag if the member does not have it yet (within the caller's transaction)."""
    if db.session.get(MemberTag, (member_id, tag)) is None:
        db.session.add(MemberTag(member_id=member_id, tag=tag, source=source))


def _register(openid: str, unionid: str | None, scene: str | None, inviter_code: str | None) -> Member:
    app_id = current_app.config["WECHAT_APPID"]
    inviter = None
    if inviter_code:
        inviter = db.session.scalar(select(Member).where(Member.invite_code == inviter_code.strip().upper()))
    tier = entry_tier()
    member = Member(
        invite_code=new_invite_code(),
        tier_id=tier.id if tier else None,
        source_channel=scene,
        invited_by_id=inviter.id if inviter else None,
    )
    db.session.add(member)
    db.session.flush()
    db.session.add(MemberIdentity(member_id=member.id, kind="openid", app_id=app_id, value=openid))
    if unionid:
        db.session.add(MemberIdentity(member_id=member.id, kind="unionid", app_id="", value=unionid))
    if scene:
        add_tag(member.id, f"channel:{scene}")
    return member


def wechat_login(code: str, scene: str | None = None, inviter_code: str | None = None) -> dict:
    """wx.login code -> the member (found by openid, then unionid, else created) and a member token."""
    ids = _identify(code)
    app_id = current_app.config["WECHAT_APPID"]
    for attempt in range(2):  # a concurrent first login of the same person loses the unique race once
        try:
            member = _find("openid", app_id, ids["openid"])
            is_new = False
            if member is None:
                member = _find("unionid", "", ids["unionid"])
                if member is not None:  # known from another app of the brand: same person, same member
                    db.session.add(
                        MemberIdentity(member_id=member.id, kind="openid", app_id=app_id, value=ids["openid"])
                    )
                else:
                    member = _register(ids["openid"], ids["unionid"], scene, inviter_code)
                    is_new = True
            elif ids["unionid"] and _find("unionid", "", ids["unionid"]) is None:
                db.session.add(MemberIdentity(member_id=member.id, kind="unionid", app_id="", value=ids["unionid"]))
            member.last_login_at = clock.now()
            if is_new:
                events.member_registered.send(None, member_id=member.id)
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
    return {"token": issue_token("member", member.id), "member": member, "is_new": is_new}


def update_profile(member_id: int, changes: dict) -> Member:
    member = get_member(member_id)
    fields = sorted(changes)
    if "birthday" in changes:
        birthday: date = changes.pop("birthday")
        if birthday >= clock.business_today():
            raise ValidationError("birthday", "Must be a date in the past.")
        if member.birthday is not None and member.birthday != birthday:
            raise Conflict("The birthday can be set only once.", code="birthday_locked")
        member.birthday = birthday
    for name, value in changes.items():
        setattr(member, name, value)
    events.profile_updated.send(None, member_id=member.id, fields=fields)
    db.session.commit()
    return member


def bind_phone(member_id: int, code: str) -> Member:
    """Bind the phone WeChat vouches for. A phone that belongs to an imported customer who never used the
    mini-program links the shopper to that customer instead (see `_link_imported`): the member returned is
    then not the caller's, and the caller's tokens stop working (the API hands out a new one)."""
    phone = wechat.phone_number(code)  # before any read: no transaction (on SQLite, no write lock) across the call
    member = get_member(member_id)
    owner = db.session.scalar(select(Member).where(Member.phone == phone).with_for_update()
                              .execution_options(populate_existing=True))
    if owner is not None and owner.id != member.id:
        if not _claimable(owner, member):
            raise Conflict("This phone number is bound to another member.", code="phone_taken")
        linked = _link_imported(member, owner)
        db.session.commit()
        return linked
    member.phone = phone
    try:
        events.profile_updated.send(None, member_id=member.id, fields=["phone"])
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This phone number is bound to another member.", code="phone_taken") from None
    return member


def _claimable(imported: Member, shopper: Member) -> bool:
    """An imported customer (an external id) who has never logged in is claimed by the first shopper who
    proves the phone, if that shopper is new here too (no phone, no purchase): their points, tier and history
    are on the imported row, which must win. `imported` is locked, so two claims cannot both pass."""
    return (imported.external_id is not None and imported.last_login_at is None and shopper.phone is None
            and shopper.purchase_count == 0)


def _link_imported(shopper: Member, imported: Member) -> Member:
    """The shopper's WeChat identities move to the imported member, so every later login finds that member;
    the shopper's own row (created by their first login moments ago) keeps no identity and its tokens are
    revoked. Audited with both ids, so the link can be traced and undone by hand."""
    db.session.execute(update(MemberIdentity).where(MemberIdentity.member_id == shopper.id)
                       .values(member_id=imported.id))
    now = clock.now()
    imported.last_login_at = now
    shopper.tokens_valid_after = now
    audit.record("member.link_imported", "member", imported.id, {"member_id": shopper.id},
                 {"member_id": imported.id, "external_id": imported.external_id})
    events.profile_updated.send(None, member_id=imported.id)
    return imported
