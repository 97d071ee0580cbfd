"""Audiences: saved filters with a live count, bad filters rejected, member ids walked in batches."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.errors import NotFound, ValidationError
from app.extensions import db
from marketing import audiences, segments, tags


@pytest.fixture
def crowd(history, at):
    at("2026-03-01T10:00:00+08:00")
    ids = {
        "gold_tea": history.member("gold_tea", tier="gold", birthday=date(1990, 3, 5)),
        "gold": history.member("gold", tier="gold", birthday=date(1991, 4, 5)),
        "normal_tea": history.member("normal_tea", tier="normal"),
        "rich": history.member("rich", tier="normal"),
    }
    tags.add_manual_tag(ids["gold_tea"], "tea")
    tags.add_manual_tag(ids["normal_tea"], "tea")
    history.grant(ids["rich"], 5000)
    history.grant(ids["gold"], 800)
    history.purchase(ids["gold"], 1000)
    segments.recompute_lifecycle()
    segments.compute_rfm(date(2026, 3, 1))
    return ids


def test_audience_live_count_follows_the_members(client, marketing, crowd):
    created = client.post("/api/v1/admin/audiences", headers=marketing, json={
        "name": "高级茶客", "description": "gold tea lovers", "filter": {"tiers": ["gold", "silver"], "tags": ["tea"]}})
    assert created.status_code == 201, created.get_json()
    audience = created.get_json()
    assert audience["count"] == 1
    tags.add_manual_tag(crowd["gold"], "tea")
    assert client.get(f"/api/v1/admin/audiences/{audience['id']}", headers=marketing).get_json()["count"] == 2
    creations = select(func.count()).select_from(AuditLog).where(AuditLog.action == "audience.create")
    assert db.session.scalar(creations) == 1
    listing = client.get("/api/v1/admin/audiences", headers=marketing).get_json()
    assert [a["name"] for a in listing["items"]] == ["高级茶客"] and listing["items"][0]["count"] is None

    patched = client.patch(f"/api/v1/admin/audiences/{audience['id']}", headers=marketing,
                           json={"filter": {"birthday_months": [3]}})
    assert patched.status_code == 200 and patched.get_json()["count"] == 1


@pytest.mark.parametrize("spec, expected", [
    ({}, {"gold_tea", "gold", "normal_tea", "rich"}),
    ({"tiers": ["normal"]}, {"normal_tea", "rich"}),
    ({"tags_any": ["tea"]}, {"gold_tea", "normal_tea"}),
    ({"lifecycle": ["active"]}, {"gold"}),
    ({"lifecycle": ["new"]}, {"gold_tea", "normal_tea", "rich"}),
    ({"rfm_segments": ["hibernating"]}, {"gold"}),  # a population of one scores 1: quintiles need 5 buyers
    ({"birthday_months": [3, 4]}, {"gold_tea", "gold"}),
    ({"points_min": 800}, {"gold", "rich"}),
    ({"points_min": 1, "points_max": 800}, {"gold"}),
    ({"points_max": 0}, {"gold_tea", "normal_tea"}),
    ({"tiers": ["gold"], "points_min": 1}, {"gold"}),
])
def test_each_filter(crowd, spec, expected):
    wanted = {crowd[name] for name in expected}
    assert audiences.count(spec) == len(wanted)
    assert set(audiences.audience_member_ids(spec, 0, 100)) == wanted


def test_member_ids_walk_in_batches(crowd):
    audience = audiences.create("everyone", {})
    first = audiences.audience_member_ids(audience["id"], after_id=0, limit=3)
    rest = audiences.audience_member_ids(audience["id"], after_id=first[-1], limit=3)
    assert first + rest == sorted(crowd.values()) and len(first) == 3
    assert audiences.audience_member_ids(audience["id"], after_id=rest[-1]) == []
    with pytest.raises(NotFound):
        audiences.audience_member_ids(999)
    with pytest.raises(ValidationError):
        audiences.audience_member_ids({"lifecycle": ["sleeping"]})


@pytest.mark.parametrize("spec, field, code", [
    ({"tiers": ["platinum"]}, "tiers", "unknown_tier"),
    ({"tags": ["coffee"]}, "tags", "unknown_tag"),
    ({"lifecycle": ["sleeping"]}, "lifecycle", "unknown_stage"),
    ({"rfm_segments": ["whales"]}, "rfm_segments", "unknown_segment"),
    ({"points_min": 10, "points_max": 5}, "points_min", "bad_range"),
    ({"birthday_months": [13]}, "filter", "validation_error"),
    ({"color": "red"}, "filter", "validation_error"),
])
def test_bad_filters_are_rejected_and_nothing_saved(client, marketing, crowd, spec, field, code):
    response = client.post("/api/v1/admin/audiences", headers=marketing, json={"name": "x", "filter": spec})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and any(name.startswith(field) for name in error["fields"])
    assert client.get("/api/v1/admin/audiences", headers=marketing).get_json()["items"] == []


def test_audience_conflicts_and_lookups(client, marketing, staff, crowd):
    body = {"name": "dup", "filter": {"tiers": ["gold"]}}
    assert client.post("/api/v1/admin/audiences", headers=marketing, json=body).status_code == 201
    again = client.post("/api/v1/admin/audiences", headers=marketing, json=body)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "audience_exists"
    assert client.get("/api/v1/admin/audiences/999", headers=marketing).status_code == 404
    assert client.get("/api/v1/admin/audiences", headers=staff).status_code == 403
    preview = client.post("/api/v1/admin/audiences/preview", headers=marketing, json={"tiers": ["gold"]}).get_json()
    assert preview == {"count": 2, "sample_member_ids": sorted([crowd["gold_tea"], crowd["gold"]])}


def test_a_coupon_issue_to_a_saved_audience(client, marketing, crowd):
    from coupons.models import Coupon, CouponIssue
    from marketing import jobs
    from tests.coupons.helpers import template

    saved = client.post("/api/v1/admin/audiences", headers=marketing,
                        json={"name": "茶客", "filter": {"tags": ["tea"]}}).get_json()
    coupon = template(claimable=False)
    url = f"/api/v1/admin/coupon-templates/{coupon.id}/issue"
    for body, code in (({"audience_id": 9999}, "audience_not_found"),
                       ({"audience_id": saved["id"], "tiers": ["gold"]}, "validation_error"),
                       ({"audience_id": saved["id"], "all_members": True}, "validation_error"),
                       ({"audience_id": "1"}, "validation_error")):
        response = client.post(url, headers=marketing, json={"audience": body})
        assert (response.status_code, response.get_json()["error"]["code"]) == (422, code), body
    assert db.session.scalar(select(func.count()).select_from(CouponIssue)) == 0

    response = client.post(url, headers=marketing, json={"audience": {"audience_id": saved["id"]}, "key": "tea-1"})
    assert response.status_code == 202, response.get_json()
    issue = response.get_json()
    assert issue["audience"] == {"audience_id": saved["id"], "filter": {"tags": ["tea"]}}
    # marketing edits the audience after issuing: the issue keeps the filter it was created with
    client.patch(f"/api/v1/admin/audiences/{saved['id']}", headers=marketing, json={"filter": {"tiers": ["gold"]}})
    assert jobs.issue_coupons(issue["id"])["changed"] == 2
    assert sorted(db.session.scalars(select(Coupon.member_id))) == sorted([crowd["gold_tea"], crowd["normal_tea"]])
    again = client.post(url, headers=marketing, json={"audience": {"audience_id": saved["id"]}, "key": "tea-1"})
    assert again.status_code == 202 and again.get_json()["id"] == issue["id"]
