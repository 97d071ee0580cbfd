"""Each rule a row is checked by (onboarding/rows.py), one refusal at a time, and the file-level refusals."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest

from app.errors import ValidationError
from onboarding import rows

CTX = rows.Context(tier_codes=frozenset({"gold"}), now=datetime(2026, 3, 5, 2, tzinfo=UTC), today=date(2026, 3, 5),
                   default_expiry=datetime(2027, 3, 5, 15, 59, tzinfo=UTC))


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("external_id", "x" * 65, "longer than 64 characters"),
    ("external_id", 1.5, "must be text"),
    ("name", "a\nb", "contains control characters or line breaks"),
    ("phone", "+1 415 555 0100", "must be an 11-digit mainland mobile number"),
    ("unionid", "u id!", "letters, digits, _ and - only"),
    ("birthday", "1899-12-31", "must be a date in the past (from 1900)"),
    ("birthday", "20-01-1990", "must be a date YYYY-MM-DD"),
    ("gender", True, "must be 0/1/2, m/f, male/female or 男/女"),
    ("growth", True, "must be a whole number"),
    ("growth", 2**31, f"must be between 0 and {2**31 - 1}"),
    ("points", "0", "must be between 1 and 100000000"),
    ("points", ";".join(["1"] * 51), "at most 50 lots"),
    ("points", "60000000;60000000", "at most 100000000 points in all"),
    ("points", [{"amount": 1, "expires": "2027-01-01"}], 'each lot must be {"amount": n, "expires_on": "YYYY-MM-DD"}'),
    ("points", {"amount": 1}, "must be lots like 500:2027-06-30;300"),
    ("vip_until", "2026-13-01", "must be a date YYYY-MM-DD"),
    ("tags", ";".join(f"t{n}" for n in range(21)), "at most 20 tags"),
    ("tags", "a,b", "'a,b': 1-64 characters, no commas, quotes, angle brackets or line breaks"),
    ("tags", "lifecycle:new", "'lifecycle:new' is an automatic tag name"),
    ("tags", [1], "must be tag1;tag2 or a list of texts"),
    ("source_channel", "a<b", "no commas, quotes or angle brackets"),
    ("joined_at", "2026-03-05T11:00:00+08:00", "must not be in the future"),
    ("joined_at", "yesterday", "must be YYYY-MM-DD or an ISO date-time"),
])
def test_a_bad_value_refuses_the_row_naming_the_field(field, value, reason):
    checked = rows.check(1, {"external_id": "E1", field: value}, CTX)
    assert isinstance(checked, rows.Refused) and checked.errors == [(field, reason)]


def test_good_values_in_their_accepted_spellings():
    checked = rows.check(3, {"external_id": 42, "phone": "8613800138000", "gender": "male", "growth": 7,
                             "points": 5, "joined_at": "2026-03-05T09:00:00+08:00", "tags": " a ; a ;b"}, CTX)
    assert (checked.external_id, checked.phone, checked.gender, checked.growth) == ("42", "13800138000", 1, 7)
    assert checked.lots == [rows.Lot(5, CTX.default_expiry)]  # no day: the policy's expiry from today
    assert checked.joined_at == datetime(2026, 3, 5, 1, tzinfo=UTC) and checked.tags == ["a", "b"]


def _read(content: str, fmt: str = "csv") -> list:
    return list(rows.read(io.BytesIO(content.encode()), fmt))


def test_csv_rows_are_numbered_from_the_first_data_row_and_blank_lines_skipped():
    assert _read("\ufeffExternal_ID,name\n1,a\n\n2,b,extra\n3,c\n") == [
        (1, {"external_id": "1", "name": "a"}, None), (2, None, "3 fields where the header has 2"),
        (3, {"external_id": "3", "name": "c"}, None)]


@pytest.mark.parametrize(("content", "reason"), [
    ("", "The file has no header row."),
    ("name,phone\nx,y\n", "The header has no external_id column."),
    ("external_id,name,name\n", "A column is named twice in the header."),
])
def test_a_bad_header_refuses_the_file(content, reason):
    with pytest.raises(ValidationError) as refused:
        _read(content)
    assert refused.value.fields == {"file": [reason]}


def test_scan_counts_rows_and_fingerprints_the_bytes():
    facts = rows.scan(io.BytesIO(b"external_id\n1\n2"), "csv")
    assert (facts.rows_total, facts.size_bytes, len(facts.fingerprint)) == (2, 15, 64)
    assert rows.scan(io.BytesIO(b'{"external_id": 1}\n'), "jsonl").rows_total == 1
    with pytest.raises(ValidationError):
        rows.scan(io.BytesIO(b"external_id\n\xe4\xb8"), "csv")  # ends inside a character
