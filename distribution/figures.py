"""What marketing reads about the program: top promoters by attributed GMV, the commission liability, how
shares convert to buyers; and the promoter list as CSV."""
from __future__ import annotations

from sqlalchemy import case, func, select

from app import csv_export
from app.extensions import db
from distribution.models import Binding, Commission, Promoter
from members.models import Member
from members.service import mask_phone

TOP = 20
CSV_HEADER = ["promoter_id", "code", "member_id", "nickname", "phone", "state", "source", "level_id", "fans", "gmv",
              "pending", "balance", "frozen", "withdrawn", "created_at"]


def report() -> dict:
    earned = (select(Commission.promoter_id, func.sum(Commission.amount - Commission.reversed).label("earned"))
              .group_by(Commission.promoter_id).subquery())
    top = db.session.execute(
        select(Promoter.id, Promoter.code, Member.nickname, Promoter.gmv, Promoter.fans,
               func.coalesce(earned.c.earned, 0))
        .join(Member, Member.id == Promoter.member_id).outerjoin(earned, earned.c.promoter_id == Promoter.id)
        .order_by(Promoter.gmv.desc(), Promoter.id).limit(TOP)).all()
    totals = db.session.execute(select(
        func.coalesce(func.sum(Promoter.pending), 0),
        func.coalesce(func.sum(case((Promoter.balance > 0, Promoter.balance), else_=0)), 0),
        func.coalesce(func.sum(Promoter.frozen), 0),
        func.coalesce(func.sum(case((Promoter.balance < 0, -Promoter.balance), else_=0)), 0),
        func.coalesce(func.sum(Promoter.withdrawn), 0), func.count(Promoter.id))).one()
    bindings, buyers = db.session.execute(select(
        func.count(), func.coalesce(func.sum(case((Binding.bought.is_(True), 1), else_=0)), 0))
        .select_from(Binding)).one()
    return {
        "top_promoters": [{"promoter_id": row[0], "code": row[1], "nickname": row[2], "gmv": row[3], "fans": row[4],
                           "commission": int(row[5])} for row in top],
        "liability": {"pending": int(totals[0]), "settled": int(totals[1]), "withdrawing": int(totals[2]),
                      "debt": int(totals[3]), "withdrawn": int(totals[4])},
        "conversion": {"bindings": int(bindings), "buyers": int(buyers),
                       "rate_bp": int(buyers) * 10_000 // int(bindings) if bindings else 0},
        "promoters": int(totals[5]),
    }


def promoters_csv(stmt) -> str:
    """The promoter list (marketing's filters) as a spreadsheet; phones masked like everywhere in the console."""
    rows = db.session.execute(stmt.order_by(Promoter.id))
    return csv_export.render(CSV_HEADER, (
        [p.id, p.code, p.member_id, nickname, mask_phone(phone), p.state, p.source, p.level_id, p.fans, p.gmv,
         p.pending, p.balance, p.frozen, p.withdrawn, p.created_at] for p, nickname, phone in rows))
