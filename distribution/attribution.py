"""Who brought whom, and the sales that follow: a shopper arriving through a promoter's share is bound to that
promoter for the program's window (first touch keeps the first promoter until it ends, last touch moves to the
newest); every binding outcome is kept in `distribution_binding_changes`. A purchase by a bound shopper is
attributed to the promoter in the purchase's own transaction, and a refund takes the commission back in its
share.

The till's hot path: with distribution off this module costs a purchase nothing (the settings are in the
per-process configuration cache); on, one indexed lookup (the shopper's binding joined to its promoter) and,
only for a bound shopper, the commission's rows. The cash part of a points-mall gift, paid at its pickup, is
attributed the same way.
"""
from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction
from types import SimpleNamespace

from sqlalchemy import bindparam, select

from app import clock
from app.errors import Forbidden, NotFound, ValidationError
from app.extensions import db
from app.sql import insert_ignore
from distribution import accounts, commission, program
from distribution.models import Binding, BindingChange, Commission, Promoter
from distribution.promoters import by_code
from mall.models import CatalogItem, Redemption
from members.models import Member
from till.models import Purchase, PurchaseLine, Refund

_BOUND = (select(Binding.expires_at, Binding.bought, Promoter.id, Promoter.state, Promoter.code, Promoter.level_id,
                 Promoter.parent_id, Promoter.member_id, Member.nickname)
          .join(Promoter, Promoter.id == Binding.promoter_id).join(Member, Member.id == Promoter.member_id)
          .where(Binding.member_id == bindparam("member_id")))


def share(member_id: int, sku: str | None) -> dict:
    """What the mini-program needs to build a share of the store or of one product: the page and the `scene`
    (at most 32 characters, WeChat's limit for getwxacodeunlimit) carrying the promoter code."""
    promoter = db.session.scalar(select(Promoter).where(Promoter.member_id == member_id))
    if promoter is None or promoter.state != "active":
        raise Forbidden("Only an active promoter can share for commission.", code="not_promoter")
    scene = f"p={promoter.code}" + (f"&s={sku}" if sku else "")
    if len(scene) > 32:
        raise ValidationError("sku", "This SKU is too long for a mini-program code's scene.", code="scene_too_long")
    page = "pages/product/detail" if sku else "pages/index/index"
    query = f"sku={sku}&p={promoter.code}" if sku else f"p={promoter.code}"
    return {"promoter_code": promoter.code, "scene": scene, "page": page, "path": f"{page}?{query}"}


def bind(member_id: int, promoter_code: str, channel: str) -> dict:
    """The shopper arrived through a promoter's share: bind (or keep, renew, move) and record the outcome."""
    settings = program.settings()
    if not settings.enabled:
        raise Forbidden("Distribution is not open.", code="distribution_off")
    promoter = by_code(promoter_code.upper())
    if promoter is None or promoter.state != "active":
        raise NotFound("No active promoter has this code.", code="promoter_not_found")
    if promoter.member_id == member_id:
        raise ValidationError("promoter_code", "A promoter cannot bind themselves.", code="self_binding")
    now = clock.now()
    until = now + timedelta(days=settings.binding_days)
    try:
        inserted = db.session.execute(insert_ignore(Binding.__table__).values(
            member_id=member_id, promoter_id=promoter.id, channel=channel, bought=False, bound_at=now,
            expires_at=until).returning(Binding.member_id)).scalar() is not None
        binding = db.session.scalar(select(Binding).where(Binding.member_id == member_id).with_for_update()
                                    .execution_options(populate_existing=True))
        before = None if inserted else binding.promoter_id
        if inserted:
            outcome = "bound"
        elif binding.expires_at <= now or (binding.promoter_id != promoter.id and settings.touch == "last"):
            outcome = "bound" if binding.expires_at <= now else "moved"
            binding.promoter_id, binding.channel, binding.bought, binding.bound_at = promoter.id, channel, False, now
            binding.expires_at = until
        elif binding.promoter_id == promoter.id and settings.touch == "last":
            outcome, binding.expires_at = "renewed", until
        else:
            outcome = "kept"  # first touch: the binding stays with its promoter until it ends
        db.session.add(BindingChange(member_id=member_id, from_promoter_id=before, to_promoter_id=promoter.id,
                                     channel=channel, outcome=outcome, created_at=now))
        bound_to = binding.promoter_id
        expires = binding.expires_at
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {"outcome": outcome, "promoter_code": promoter.code if bound_to == promoter.id else None,
            "bound_until": expires}


# --- sales ----------------------------------------------------------------------------------------------

def _bound(member_id: int):
    """(the program, the shopper's live binding joined to its active promoter) or (the program, None): with
    distribution off, no statement; on, one indexed lookup."""
    data = program.current()
    if not data.settings.enabled:
        return data, None
    bound = db.session.execute(_BOUND, {"member_id": member_id}).one_or_none()
    if bound is None or bound.state != "active" or bound.expires_at <= clock.now() or bound.member_id == member_id:
        return data, None
    return data, bound


def on_purchase(member_id: int, purchase_id: int) -> dict | None:
    """Attribute a recorded purchase (inside its transaction). Returns what the till's answer says about the
    promoter."""
    data, bound = _bound(member_id)
    if bound is None:
        return None
    purchase = db.session.get(Purchase, purchase_id)
    lines = list(db.session.scalars(select(PurchaseLine).where(PurchaseLine.purchase_id == purchase_id)))
    amount = commission.compute(data.rules, bound.level_id, purchase.paid, purchase.subtotal, lines)
    _attribute(data, bound, member_id, {"purchase_id": purchase_id}, purchase.paid, amount, "purchase", purchase_id)
    return {"promoter": {"id": bound.id, "code": bound.code, "nickname": bound.nickname, "commission": amount}}


def on_redemption(member_id: int, redemption_id: int) -> None:
    """Attribute the cash part of a points-mall gift, paid at its pickup (the points part earns nothing): one
    line of the item's code, so a rule for that code or the catch-all pays it."""
    data, bound = _bound(member_id)
    if bound is None:
        return
    redemption = db.session.get(Redemption, redemption_id)
    if not redemption.cash_total:
        return
    item = db.session.get(CatalogItem, redemption.item_id)
    line = SimpleNamespace(sku=item.code, category=None, total=redemption.cash_total)
    amount = commission.compute(data.rules, bound.level_id, redemption.cash_total, redemption.cash_total, [line])
    _attribute(data, bound, member_id, {"redemption_id": redemption_id}, redemption.cash_total, amount,
               "redemption", redemption_id)


def _attribute(data, bound, member_id: int, sale: dict, paid: int, amount: int, cause_type: str,
               cause_id: int) -> None:
    """The commission rows of one attributed sale, pending until the return window ends (the bound promoter's,
    and the inviter's when the second level is on), and the promoter's GMV and fans."""
    shares = [(bound.id, 1, amount)]
    second_bp = data.settings.second_level_bp
    if second_bp and bound.parent_id is not None:
        parent = db.session.get(Promoter, bound.parent_id)
        if parent is not None and parent.state == "active" and parent.member_id != member_id:
            shares.append((parent.id, 2, paid * second_bp // 10_000))
    locked = accounts.lock(promoter_id for promoter_id, _, _ in shares)
    now = clock.now()
    settle_at = now + timedelta(days=data.settings.return_days)
    for promoter_id, depth, value in shares:
        row = Commission(**sale, promoter_id=promoter_id, buyer_id=member_id, depth=depth, base=paid, amount=value,
                         reversed=0, state="pending", settle_at=settle_at, created_at=now)
        db.session.add(row)
        db.session.flush()
        if value:
            accounts.move(locked[promoter_id], "accrue", f"accrue:{row.id}", cause_type, cause_id, pending=value)
    promoter = locked[bound.id]
    promoter.gmv += paid
    if not bound.bought:
        promoter.fans += 1
        db.session.execute(Binding.__table__.update().where(Binding.member_id == member_id).values(bought=True))


def on_refund(purchase_id: int, refund_id: int) -> None:
    """Take back the refunded share of the purchase's commission (cumulative, so partial refunds end where a
    full one would, like points): from pending while the window runs, else from the settled balance, which
    may go below zero, a debt later commission pays first."""
    rows = list(db.session.scalars(select(Commission).where(Commission.purchase_id == purchase_id)
                                   .order_by(Commission.depth)))
    if not rows:
        return
    locked = accounts.lock(row.promoter_id for row in rows)
    purchase = db.session.get(Purchase, purchase_id)
    refund = db.session.get(Refund, refund_id)
    share = Fraction(1) if purchase.refunded_full or not purchase.paid else Fraction(purchase.refunded_amount,
                                                                                     purchase.paid)
    for row in db.session.scalars(select(Commission).where(Commission.purchase_id == purchase_id)
                                  .execution_options(populate_existing=True)):  # fresh under the locks
        taken = math.floor(row.amount * share) - row.reversed
        promoter = locked[row.promoter_id]
        if row.depth == 1:
            promoter.gmv -= refund.amount
        if taken <= 0:
            continue
        row.reversed += taken
        key = f"refund:{refund_id}:{row.id}"
        if row.state == "pending":
            accounts.move(promoter, "reverse", key, "refund", refund_id, pending=-taken)
        else:
            accounts.move(promoter, "clawback", key, "refund", refund_id, balance=-taken)

