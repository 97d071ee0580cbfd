"""The served OpenAPI document: valid OpenAPI 3, errors documented as the envelope the API really answers, PATCH
bodies that promise no defaults, and PATCHes that keep what they do not name."""
from __future__ import annotations

import io

import pytest
from jsonschema import Draft4Validator
from openapi_spec_validator import validate as validate_spec

from tests.mall.helpers import add_item
from tests.tasks.helpers import CHECKIN, define

METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].split("/")
        node = spec["components"][name[-2]][name[-1]]
    return node


def error_validator(spec: dict) -> Draft4Validator:
    """The documented error schema as a JSON Schema (its $refs resolved against the document)."""
    return Draft4Validator({**spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"],
                            "components": spec["components"]})


def test_the_served_document_is_valid_openapi_3(spec):
    validate_spec(spec)  # raises on the first error: e.g. `in: formData`, which only Swagger 2 has
    upload = spec["paths"]["/api/v1/admin/tags/bulk"]["post"]
    assert "parameters" not in upload
    body = resolve(spec, upload["requestBody"]["content"]["multipart/form-data"]["schema"])
    assert set(body["properties"]) == {"tag", "action", "file"} and set(body["required"]) == {"tag", "file"}
    assert body["properties"]["file"]["format"] == "binary"


def test_every_operation_documents_errors_as_the_envelope(spec):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert "default" in responses, (method, path)
        for status, response in responses.items():
            if status == "default" or status.startswith(("4", "5")):
                schema = resolve(spec, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"code", "message", "fields"}


def test_real_error_answers_match_the_documented_envelope(client, spec, marketing):
    validator = error_validator(spec)
    answers = [
        client.get("/api/v1/me"),  # 401
        client.get("/api/v1/admin/tiers/999", headers=marketing),  # 404
        client.post("/api/v1/admin/tiers", headers=marketing, json={"code": "x"}),  # 422 with fields
        client.post("/api/v1/admin/tiers", headers=marketing, data="{", content_type="application/json"),  # 400
        client.post("/api/v1/admin/tags/bulk", headers=marketing, data={"tag": "vip-list", "file": "not a file"},
                    content_type="multipart/form-data"),  # 422: a text value where the file belongs
    ]
    assert [a.status_code for a in answers] == [401, 404, 422, 400, 422]
    for answer in answers:
        errors = list(validator.iter_errors(answer.get_json()))
        assert errors == [], (answer.status_code, answer.get_json(), errors)
    assert answers[4].get_json()["error"]["fields"] == {"file": ["Must be a file."]}


def test_bulk_upload_takes_its_text_fields_and_file_from_one_multipart_body(client, marketing, login):
    _, member_id = login("alice")
    data = {"tag": "vip-list", "action": "add", "file": (io.BytesIO(f"member_id\n{member_id}\n".encode()), "a.csv")}
    response = client.post("/api/v1/admin/tags/bulk", headers=marketing, data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["changed"] == 1


def test_patch_bodies_advertise_no_defaults_and_require_nothing(spec):
    patches = 0
    for path, method, operation in operations(spec):
        if method != "patch":
            continue
        patches += 1
        body = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        assert "required" not in body, path
        defaults = {name: prop["default"] for name, prop in body["properties"].items() if "default" in prop}
        assert defaults == {}, (path, defaults)
    assert patches >= 9


def _unchanged(before: dict, after: dict, changed: set[str]) -> dict:
    skip = changed | {"updated_at"}
    return {k: (before[k], after.get(k)) for k in before if k not in skip and before[k] != after.get(k)}


def test_a_patch_keeps_every_field_it_does_not_name(client, marketing, tiers):
    task = define(client, marketing, **CHECKIN, description="签到", display_order=5, active=False,
                  streak_reset="monthly", cap={"period": "week", "count": 3})
    item = add_item(client, marketing, description="帆布", cash_price=50, per_member_limit=2, limit_period="month",
                    active=False, display_order=7)
    tier = client.post("/api/v1/admin/tiers", headers=marketing, json={
        "code": "black", "name": "黑卡", "rank": 9, "growth_threshold": 900000, "retention_threshold": 5000,
        "review_rule": "calendar", "review_month_day": "01-01", "benefits": {"points_multiplier_percent": 300}})
    plan = client.post("/api/v1/admin/vip-plans", headers=marketing, json={
        "code": "month", "name": "月卡", "price": 1900, "duration_days": 31, "active": False,
        "benefits": {"points_multiplier_percent": 120}})
    assert tier.status_code == plan.status_code == 201, (tier.get_json(), plan.get_json())
    for path, before in ((f"/api/v1/admin/tasks/{task['id']}", task), (f"/api/v1/admin/catalog/{item['id']}", item),
                         (f"/api/v1/admin/tiers/{tier.get_json()['id']}", tier.get_json()),
                         (f"/api/v1/admin/vip-plans/{plan.get_json()['id']}", plan.get_json())):
        response = client.patch(path, headers=marketing, json={"name" if "task" not in path else "title": "新名字"})
        assert response.status_code == 200, (path, response.get_json())
        after = client.get(path, headers=marketing).get_json()
        assert _unchanged(before, after, {"name", "title"}) == {}, path


def test_an_object_given_in_a_patch_is_checked_whole(client, marketing):
    task = define(client, marketing, **CHECKIN)
    path = f"/api/v1/admin/tasks/{task['id']}"
    half_cap = client.patch(path, headers=marketing, json={"cap": {"period": "day"}})
    assert half_cap.status_code == 422 and "cap.count" in half_cap.get_json()["error"]["fields"]
    bonus_without_reward = client.patch(path, headers=marketing, json={"streak_bonuses": [{"day": 2}]})
    assert bonus_without_reward.status_code == 422
    assert client.get(path, headers=marketing).get_json()["cap"] == task["cap"]
    assert client.patch(path, headers=marketing, json={"reward": {"growth": 3}}).get_json()["reward"] == {
        "points": 0, "growth": 3, "coupon_template_id": None}  # a reward given whole: its own defaults apply

