"""Manual tags on one member, bulk tags from a CSV with bad rows, search by tag."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.extensions import db
from marketing import tags
from members import tags as member_tags
from members.models import MemberTag


def _tag_set(member_id: int) -> set[str]:
    return set(db.session.scalars(select(MemberTag.tag).where(MemberTag.member_id == member_id)))


def test_manual_tags_on_one_member(client, marketing, history):
    member_id = history.member("m")
    url = f"/api/v1/admin/members/{member_id}/tags"
    added = client.post(url, json={"tag": "爱喝茶"}, headers=marketing)
    assert added.status_code == 200
    assert [(t["tag"], t["source"]) for t in added.get_json()["tags"]] == [("爱喝茶", "manual")]
    assert client.post(url, json={"tag": "爱喝茶"}, headers=marketing).status_code == 200  # repeat: no change
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "member_tag.add")) == 1
    assert [t["tag"] for t in client.get(url, headers=marketing).get_json()["tags"]] == ["爱喝茶"]

    removed = client.delete(url + "?tag=爱喝茶", headers=marketing)
    assert removed.status_code == 200 and removed.get_json()["tags"] == []
    assert client.delete(url + "?tag=爱喝茶", headers=marketing).status_code == 404
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "member_tag.remove"))
    assert audit.before == {"tag": "爱喝茶"} and audit.target_id == str(member_id)


def test_manual_tag_bad_input(client, marketing, staff, history):
    member_id = history.member("m")
    db.session.add(MemberTag(member_id=member_id, tag="channel:poster", source="auto"))
    db.session.commit()
    url = f"/api/v1/admin/members/{member_id}/tags"
    for body, code in [({"tag": "tier:gold"}, "reserved_tag"), ({"tag": "vip"}, "reserved_tag"),
                       ({"tag": "a,b"}, "bad_tag"), ({"tag": " "}, "bad_tag"), ({"tag": "x" * 65}, "validation_error"),
                       ({}, "validation_error"), ({"tag": "ok", "extra": 1}, "validation_error")]:
        response = client.post(url, json=body, headers=marketing)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == code, body
    auto = client.delete(url + "?tag=channel:poster", headers=marketing)
    assert auto.status_code == 409 and auto.get_json()["error"]["code"] == "auto_tag"
    assert client.post("/api/v1/admin/members/999999/tags", json={"tag": "ok"}, headers=marketing).status_code == 404
    assert client.post(url, json={"tag": "ok"}, headers=staff).status_code == 403
    assert _tag_set(member_id) == {"channel:poster"}


def _upload(client, headers, content: str, tag: str = "团购客户", action: str | None = None):
    data = {"tag": tag, "file": (io.BytesIO(content.encode()), "members.csv")}
    if action:
        data["action"] = action
    return client.post("/api/v1/admin/tags/bulk", data=data, headers=headers, content_type="multipart/form-data")


def test_bulk_csv_applies_good_rows_and_reports_bad_ones(client, marketing, history):
    a = history.member("a", phone="13800000001")
    b = history.member("b", phone="13800000002")
    c = history.member("c")
    csv_text = "\n".join([
        "member_id,phone",
        f"{a},",                 # row 2: by id
        ",13800000002",          # row 3: by phone
        "999999,",               # row 4: unknown id
        ",13999999999",          # row 5: unknown phone
        "abc,",                  # row 6: not an id
        ",",                     # row 7: empty: skipped
        ",phone?",               # row 8: not a phone
        f"{a},",                 # row 9: duplicate of row 2: applied once
    ])
    response = _upload(client, marketing, csv_text)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["members"] == 2 and body["changed"] == 2 and body["unchanged"] == 0 and body["rows"] == 7
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (4, "not_found"), (5, "not_found"), (6, "invalid"), (8, "invalid")]
    assert "团购客户" in _tag_set(a) and "团购客户" in _tag_set(b) and "团购客户" not in _tag_set(c)
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "member_tag.bulk_add"))
    assert audit.after == {"rows": 7, "members": 2, "changed": 2, "errors": 4}

    again = _upload(client, marketing, f"member_id\n{a}\n{c}\n").get_json()
    assert again["changed"] == 1 and again["unchanged"] == 1 and again["errors"] == []

    removed = _upload(client, marketing, "phone\n13800000001\n", action="remove").get_json()
    assert removed["changed"] == 1 and "团购客户" not in _tag_set(a)


@pytest.mark.parametrize("content, tag, code", [
    ("name\nalice\n", "t", "bad_csv"),            # no member_id / phone column
    ("", "t", "bad_csv"),
    ("member_id\n1\n", "lifecycle:active", "reserved_tag"),
])
def test_bulk_csv_unusable_files_change_nothing(client, marketing, history, content, tag, code):
    member_id = history.member("m")
    response = _upload(client, marketing, content.replace("1\n", f"{member_id}\n"), tag=tag)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == code
    assert _tag_set(member_id) == set()


def test_bulk_csv_ids_in_other_digits_or_out_of_range_are_row_errors(client, marketing, history):
    """'²' passed str.isdigit() and int('²') gave 500; 2**31 was a 500 on PostgreSQL."""
    a = history.member("a")
    bad = ["²", "１２", "٣", str(2**31), "9" * 5000, "0", "-1", "1e3", f"{a}\u0000"]
    csv_text = "member_id\n" + f"{a}\n" + "".join(f"{value}\n" for value in bad)
    response = _upload(client, marketing, csv_text)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["members"] == 1 and body["changed"] == 1
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(row, "invalid") for row in range(3, 3 + len(bad))]
    assert _tag_set(a) == {"团购客户"}


def test_bulk_csv_may_be_bigger_than_other_bodies(client, marketing, history, app):
    """The API takes 1 MiB bodies (413 above); the CSV upload takes up to tags.BULK_MAX_BYTES."""
    a = history.member("a")
    note = "x" * 200
    rows = [f"{a},{note}"] * 6000  # 1.2 MB
    assert len("\n".join(rows)) > app.config["MAX_CONTENT_LENGTH"]
    response = _upload(client, marketing, "member_id,note\n" + "\n".join(rows))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["members"] == 1 and _tag_set(a) == {"团购客户"}
    too_big = _upload(client, marketing, "member_id,note\n" + f"{a},{'x' * tags.BULK_MAX_BYTES}\n", tag="other")
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "payload_too_large"
    assert _tag_set(a) == {"团购客户"}


def test_a_tag_with_control_characters_is_refused(client, marketing, history):
    a = history.member("a")
    for tag in ("a\u0000b", "tab\there", "\u0007bell"):
        response = _upload(client, marketing, f"member_id\n{a}\n", tag=tag)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "bad_tag", tag
    assert _tag_set(a) == set()


def test_bulk_csv_needs_a_file_and_a_marketing_token(client, marketing, staff):
    no_file = client.post("/api/v1/admin/tags/bulk", data={"tag": "t"}, headers=marketing,
                          content_type="multipart/form-data")
    assert no_file.status_code == 422
    assert _upload(client, staff, "member_id\n1\n").status_code == 403
    bad_action = _upload(client, marketing, "member_id\n1\n", action="toggle")
    assert bad_action.status_code == 422


def test_search_by_tag(client, marketing, history):
    a, b, c = history.member("a"), history.member("b"), history.member("c")
    for member_id, tag in [(a, "tea"), (b, "tea"), (b, "cake"), (c, "cake")]:
        tags.add_manual_tag(member_id, tag)
    assert member_tags.member_ids_with_tags(["tea"]) == [a, b]
    assert member_tags.member_ids_with_tags(["tea", "cake"]) == [b]
    assert member_tags.member_ids_with_tags(["tea", "cake"], match="any") == [a, b, c]
    assert member_tags.member_ids_with_tags(["tea"], after_id=a) == [b]
    with pytest.raises(Exception) as error:
        member_tags.member_ids_with_tags(["coffee"])
    assert error.value.code == "unknown_tag"
    listed = {t["tag"]: t for t in client.get("/api/v1/admin/tags", headers=marketing).get_json()["items"]}
    assert listed["tea"] == {"tag": "tea", "auto": False, "members": 2}
