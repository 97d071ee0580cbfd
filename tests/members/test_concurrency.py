"""Races on identity, with real concurrent requests (SQLite and PostgreSQL)."""
from concurrent.futures import ThreadPoolExecutor

from app.errors import Conflict
from app.extensions import db
from members import member_code
from members.models import ConsumedMemberCode, Member, MemberIdentity
from tests.concurrency import end_test_transaction


def test_concurrent_first_logins_create_one_member(app):
    def login(_):
        with app.app_context():
            response = app.test_client().post("/api/v1/auth/wechat-login", json={"code": "test-racer"})
            return response.status_code, response.get_json()["member"]["id"]

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(login, range(10)))
    assert {status for status, _ in results} == {200}
    assert len({member_id for _, member_id in results}) == 1
    assert db.session.query(Member).count() == 1
    assert db.session.query(MemberIdentity).count() == 1


def test_one_member_code_consumed_once_under_race(app, login):
    _, member_id = login("alice")
    code = member_code.issue(member_id).code

    def consume(i):
        with app.app_context():
            try:
                member_code.consume(code, f"purchase:1:R{i}")
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "used"

    end_test_transaction()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(consume, range(10)))
    assert results.count("ok") == 1 and results.count("used") == 9
    assert db.session.query(ConsumedMemberCode).count() == 1
