"""CSV exports: formula-looking text is quoted (CSV injection), every file starts with a UTF-8 BOM for Excel, and
`?segment=` reaches the RFM export."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from app import csv_export
from marketing import segments

BOM = b"\xef\xbb\xbf"
HOSTILE = "=cmd|' /C calc'!A0"


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


@pytest.mark.parametrize("value,written", [
    ("=1+1", "'=1+1"), ("+86 138", "'+86 138"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("普通会员", "普通会员"), ("a=b", "a=b"), (-5, -5), (0.25, 0.25), (None, None),
    (date(2026, 3, 1), "2026-03-01"),
])
def test_a_cell_that_could_start_a_formula_is_quoted(value, written):
    assert csv_export.cell(value) == written


def test_koc_export_quotes_a_formula_nickname_and_opens_in_excel(client, marketing, history, at):
    at("2026-02-01T12:00:00+08:00")
    inviter = history.member(HOSTILE)
    chinese = history.member("小红书达人")
    history.purchase(history.member("friend", invited_by=inviter), 1000)
    history.purchase(history.member("friend2", invited_by=chinese), 1000)
    at("2026-03-01T12:00:00+08:00")
    segments.compute_koc()
    response = client.get("/api/v1/admin/reports/koc?format=csv", headers=marketing)
    assert response.get_data().startswith(BOM)
    nicknames = {row[1]: row[2] for row in _rows(response)[1:]}
    assert nicknames == {str(inviter): "'" + HOSTILE, str(chinese): "小红书达人"}


def test_every_export_starts_with_a_bom(client, marketing, history, at):
    at("2026-02-01T12:00:00+08:00")
    history.purchase(history.member("a"), 1000)
    at("2026-03-01T12:00:00+08:00")
    segments.compute_rfm()
    for path in ("summary", "daily", "rfm", "rfm?segment=new_customers&", "super-users", "koc"):
        url = f"/api/v1/admin/reports/{path}" + ("" if path.endswith("&") else "?") + "format=csv"
        response = client.get(url, headers=marketing)
        assert response.get_data().startswith(BOM), url
        assert len(_rows(response)) >= 1, url


def test_rfm_export_of_one_segment_lists_its_members(client, marketing, history, at):
    at("2026-02-01T12:00:00+08:00")
    buyers = [history.member(f"m{i}") for i in range(3)]
    for buyer in buyers:
        history.purchase(buyer, 1000)
    at("2026-03-01T12:00:00+08:00")
    segments.compute_rfm()
    cells = client.get("/api/v1/admin/reports/rfm", headers=marketing).get_json()["segments"]
    name = next(cell["segment"] for cell in cells if cell["members"] == 3)  # three alike buyers, one segment
    members = [m["member_id"] for m in
               client.get(f"/api/v1/admin/reports/rfm?segment={name}", headers=marketing).get_json()["members"]]
    assert sorted(members) == sorted(buyers)
    response = client.get(f"/api/v1/admin/reports/rfm?segment={name}&format=csv", headers=marketing)
    rows = _rows(response)
    assert rows[0][:2] == ["member_id", "segment"]
    assert [int(row[0]) for row in rows[1:]] == members and {row[1] for row in rows[1:]} == {name}
    assert f'filename="rfm-{name}.csv"' in response.headers["Content-Disposition"]
    whole = _rows(client.get("/api/v1/admin/reports/rfm?format=csv", headers=marketing))
    assert whole[0] == ["segment", "members", "monetary", "share"]
