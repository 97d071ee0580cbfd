from collections import Counter

from points.ledger import summary
from tasks.models import CheckIn, TaskCompletion
from tests.concurrency import fire
from tests.conftest import bearer
from tests.tasks.helpers import CHECKIN, define


def test_concurrent_checkins_of_one_member_make_one(app, client, login, marketing):
    define(client, marketing, **CHECKIN)
    token, member_id = login()
    results = fire(app, [("POST", "/api/v1/tasks/checkin", bearer(token), None)] * 12)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: 11}, statuses
    assert CheckIn.query.count() == 1 and summary(member_id)["balance"] == 5


def test_period_cap_holds_under_concurrency(app, client, login, marketing):
    define(client, marketing, code="share", kind="share", title="分享", reward={"points": 2},
           cap={"period": "day", "count": 3})
    token, member_id = login()
    results = fire(app, [("POST", "/api/v1/tasks/share/complete", bearer(token), {"ref": f"page-{n}"})
                         for n in range(15)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 3, 409: 12}, statuses
    assert TaskCompletion.query.count() == 3 and summary(member_id)["balance"] == 6


def test_same_ref_at_once_rewards_once(app, client, login, marketing):
    define(client, marketing, code="share", kind="share", title="分享", reward={"points": 2},
           cap={"period": "day", "count": 3})
    token, member_id = login()
    results = fire(app, [("POST", "/api/v1/tasks/share/complete", bearer(token), {"ref": "page-1"})] * 10)
    assert {status for status, _ in results} == {200}
    assert sum(body["new"] for _, body in results) == 1
    assert TaskCompletion.query.count() == 1 and summary(member_id)["balance"] == 2
