"""Demo stores and logins: staff1 (S1), staff2 (S2), manager1 (S1) and marketing, password demo1234."""
from sqlalchemy import select

from app.extensions import db
from app.operators import service
from app.operators.models import Operator, Store

DEMO_PASSWORD = "demo1234"
STORES = [("S1", "旗舰店 Flagship (Jing'an)"), ("S2", "社区店 Community (Xuhui)")]
OPERATORS = [("staff1", "staff", "S1"), ("staff2", "staff", "S2"), ("manager1", "manager", "S1"),
             ("marketing", "marketing", None), ("admin", "admin", None)]


def seed() -> list[str]:
    for code, name in STORES:
        if db.session.scalar(select(Store).where(Store.code == code)) is None:
            service.create_store(code, name, audited=False)
    for username, role, store in OPERATORS:
        if db.session.scalar(select(Operator).where(Operator.username == username)) is None:
            service.create_operator(username, DEMO_PASSWORD, role, store, audited=False)
    return [f"logins (password {DEMO_PASSWORD}): " + ", ".join(f"{u} [{r}{' @' + s if s else ''}]"
                                                              for u, r, s in OPERATORS)]
