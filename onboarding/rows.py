"""Reading an import file row by row and checking each row on its own (no database): CSV or JSON lines.

A file is read as a stream (one row in memory at a time), so a file of millions of customers costs the same
memory as one of ten. Each row either becomes a `Row` (every value parsed and in range) or a `Refused` with
one (field, reason) per bad field: a row is written whole or not at all. What needs the database (the
external id already imported, a phone bound to someone else) is checked per chunk by `onboarding.importer`.

The columns (CSV header or JSON keys; only `external_id` is required):

| column | value |
|---|---|
| external_id | the brand's customer id, 1-64 characters: a member is imported once per external id |
| phone | 11-digit mainland mobile (spaces, dashes and a +86 prefix are dropped) |
| unionid, openid | WeChat ids the old system knew (openid of this mini-program) |
| name | shown as the nickname until the shopper logs in |
| birthday | YYYY-MM-DD, in the past |
| gender | 0/1/2, m/f, male/female, 男/女 (WeChat's 0 unknown, 1 male, 2 female) |
| tier | a tier code of the ladder; empty: the tier the growth reaches |
| growth | growth value (成长值), a whole number >= 0 |
| points | opening lots `500:2027-06-30;300`: amount and last valid day (none: the policy's expiry from today); |
|        | JSON also takes [{"amount": 500, "expires_on": "2027-06-30"}] |
| vip_until | YYYY-MM-DD, the last day of the paid VIP |
| tags | `tag1;tag2` (JSON: also a list): manual tags |
| source_channel | where the customer came from (tagged `channel:<it>`) |
| joined_at | YYYY-MM-DD or an ISO date-time: when they joined the old program |
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from app import clock
from app.errors import ValidationError
from app.fields import MAX_POINTS

COLUMNS = ("external_id", "phone", "unionid", "openid", "name", "birthday", "gender", "tier", "growth", "points",
           "vip_until", "tags", "source_channel", "joined_at")
FORMATS = ("csv", "jsonl")
MAX_GROWTH = 2**31 - 1
MAX_LOTS = 50
MAX_TAGS = 20
READ_CHUNK = 1024 * 1024

_PHONE = re.compile(r"^1\d{10}$")
_WECHAT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_PLAIN = re.compile(r"^[^\x00-\x1f\x7f]+$")  # printable: no control characters, no line breaks
_TAG = re.compile(r"^[^\s,;\"'<>\x00-\x1f\x7f][^,;\"'<>\x00-\x1f\x7f]{0,63}$")
_AUTO_TAG_PREFIXES = ("channel:", "tier:", "birthday_month:", "lifecycle:")
_AUTO_TAG_NAMES = ("vip", "super_user")
_GENDERS = {"": 0, "0": 0, "1": 1, "2": 2, "m": 1, "male": 1, "f": 2, "female": 2, "男": 1, "女": 2,
            "u": 0, "unknown": 0, "未知": 0}


@dataclass(frozen=True)
class Lot:
    amount: int
    expires_at: datetime  # the end of the last valid business day


@dataclass
class Row:
    """One customer, every value checked."""

    number: int
    external_id: str
    phone: str | None = None
    unionid: str | None = None
    openid: str | None = None
    name: str | None = None
    birthday: date | None = None
    gender: int = 0
    tier: str | None = None
    growth: int = 0
    lots: list[Lot] = field(default_factory=list)
    vip_until: datetime | None = None
    tags: list[str] = field(default_factory=list)
    source_channel: str | None = None
    joined_at: datetime | None = None

    @property
    def points(self) -> int:
        return sum(lot.amount for lot in self.lots)


@dataclass
class Refused:
    """A row that is not imported, and why: (field, reason) for each bad field."""

    number: int
    external_id: str | None
    errors: list[tuple[str, str]]


class _Bad(Exception):
    """One field's refusal (its reason)."""


@dataclass(frozen=True)
class Context:
    """What checking a row needs besides the row: fixed for a run, so the check is the same in a dry run."""

    tier_codes: frozenset[str]
    now: datetime
    today: date
    default_expiry: datetime | None  # the policy's expiry of points credited now (None: never)
    day_ends: dict[date, datetime] = field(default_factory=dict)  # a few dates recur in a whole file
    day_starts: dict[date, datetime] = field(default_factory=dict)

    def end_of(self, day: date) -> datetime:
        found = self.day_ends.get(day)
        if found is None:
            found = self.day_ends[day] = clock.end_of_business_day(day)
        return found

    def start_of(self, day: date) -> datetime:
        found = self.day_starts.get(day)
        if found is None:
            found = self.day_starts[day] = clock.start_of_business_day(day)
        return found


# --- the file ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileFacts:
    fingerprint: str
    size_bytes: int
    rows_total: int


def file_format(filename: str, requested: str | None = None) -> str:
    """csv or jsonl: as asked, else from the file name (.jsonl / .ndjson / .json are JSON lines)."""
    if requested:
        if requested not in FORMATS:
            raise ValidationError("format", f"One of {', '.join(FORMATS)}.", code="bad_import_format")
        return requested
    return "jsonl" if filename.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"


def scan(stream: IO[bytes], fmt: str) -> FileFacts:
    """One pass over the bytes before the run: the fingerprint (a re-run of the same file resumes its batch),
    the size, the number of data rows (the progress bar's end) and a UTF-8 check, so a file that is not text
    is refused before anything is written. Constant memory: it reads a megabyte at a time."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size, lines, last = 0, 0, b"\n"
    while chunk := stream.read(READ_CHUNK):
        digest.update(chunk)
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            raise ValidationError("file", f"The file is not UTF-8 text (near byte {size}).",
                                  code="bad_import_file") from None
        size += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValidationError("file", "The file is not UTF-8 text (it ends inside a character).",
                              code="bad_import_file") from None
    if last != b"\n":
        lines += 1
    if size == 0:
        raise ValidationError("file", "The file is empty.", code="bad_import_file")
    return FileFacts(digest.hexdigest(), size, max(lines - 1, 0) if fmt == "csv" else lines)


def read(stream: IO[bytes], fmt: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, raw values, None) per data row, or (row number, None, reason) for a row that is not even
    a record (a JSON line that is not an object). Row 1 is the first data row. A CSV header naming an unknown
    column, or no `external_id`, refuses the whole file (422 `bad_import_file`) before any row."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    if fmt == "csv":
        yield from _read_csv(text)
    else:
        yield from _read_jsonl(text)


def check_header(stream: IO[bytes], fmt: str) -> None:
    """Refuse a CSV whose header is wrong before a batch exists (the upload's 422); reads the first line only."""
    if fmt == "csv":
        _header_names(next(csv.reader([stream.readline().decode("utf-8-sig")]), None))


def _header_names(header: list[str] | None) -> list[str]:
    if not header:
        raise ValidationError("file", "The file has no header row.", code="bad_import_file")
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ValidationError("file", f"Unknown column(s): {', '.join(unknown)}; the columns are "
                              f"{', '.join(COLUMNS)}.", code="bad_import_file")
    if "external_id" not in names:
        raise ValidationError("file", "The header has no external_id column.", code="bad_import_file")
    if len(set(names)) != len(names):
        raise ValidationError("file", "A column is named twice in the header.", code="bad_import_file")
    return names


def _read_csv(text: IO[str]) -> Iterator[tuple[int, dict | None, str | None]]:
    reader = csv.reader(text)
    names = _header_names(next(reader, None))
    number = 0
    for record in reader:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        number += 1
        if len(record) != len(names):
            yield number, None, f"{len(record)} fields where the header has {len(names)}"
            continue
        yield number, dict(zip(names, record, strict=True)), None


def _read_jsonl(text: IO[str]) -> Iterator[tuple[int, dict | None, str | None]]:
    number = 0
    for line in text:
        if not line.strip():
            continue
        number += 1
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            yield number, None, "not a JSON object"
            continue
        if not isinstance(record, dict):
            yield number, None, "not a JSON object"
            continue
        unknown = sorted(str(name) for name in record if name not in COLUMNS)
        if unknown:
            yield number, None, f"unknown field(s): {', '.join(unknown)[:200]}"
            continue
        yield number, record, None


# --- one row ----------------------------------------------------------------------------------------------

def _text(value: Any, max_length: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad("must be text")
    value = str(value).strip()
    if not value:
        return None
    if len(value) > max_length:
        raise _Bad(f"longer than {max_length} characters")
    if not _PLAIN.match(value):
        raise _Bad("contains control characters or line breaks")
    return value


def _whole(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _Bad("must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"\d{1,12}", value):
            raise _Bad("must be a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise _Bad("must be a whole number")
    if not low <= value <= high:
        raise _Bad(f"must be between {low} and {high}")
    return value


def _day(value: Any) -> date | None:
    text = _text(value, 10)
    if text is None:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise _Bad("must be a date YYYY-MM-DD")


def _external_id(value: Any, ctx: Context) -> str:
    text = _text(value, 64)
    if text is None:
        raise _Bad("is required")
    return text


def _phone(value: Any, ctx: Context) -> str | None:
    text = _text(value, 20)
    if text is None:
        return None
    digits = re.sub(r"[\s\-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _PHONE.match(digits):
        raise _Bad("must be an 11-digit mainland mobile number")
    return digits


def _wechat_id(value: Any, ctx: Context) -> str | None:
    text = _text(value, 128)
    if text is not None and not _WECHAT_ID.match(text):
        raise _Bad("letters, digits, _ and - only")
    return text


def _name(value: Any, ctx: Context) -> str | None:
    return _text(value, 64)


def _birthday(value: Any, ctx: Context) -> date | None:
    day = _day(value)
    if day is not None and not date(1900, 1, 1) <= day < ctx.today:
        raise _Bad("must be a date in the past (from 1900)")
    return day


def _gender(value: Any, ctx: Context) -> int:
    key = "" if value is None else str(value).strip().lower()
    if isinstance(value, bool) or key not in _GENDERS:
        raise _Bad("must be 0/1/2, m/f, male/female or 男/女")
    return _GENDERS[key]


def _tier(value: Any, ctx: Context) -> str | None:
    text = _text(value, 32)
    if text is not None and text not in ctx.tier_codes:
        raise _Bad(f"no tier with code '{text}'")
    return text


def _growth(value: Any, ctx: Context) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return _whole(value, 0, MAX_GROWTH)


def _lot(amount: Any, expires_on: Any, ctx: Context) -> Lot:
    points = _whole(amount, 1, MAX_POINTS)
    day = _day(expires_on)
    if day is None:
        if ctx.default_expiry is not None and ctx.default_expiry <= ctx.now:
            raise _Bad("the policy's expiry for points credited now has passed")
        return Lot(points, ctx.default_expiry)
    if day < ctx.today:
        raise _Bad(f"the lot of {points} expired on {day.isoformat()}")
    return Lot(points, ctx.end_of(day))


def _points(value: Any, ctx: Context) -> list[Lot]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [_lot(value, None, ctx)]
    if isinstance(value, list):
        if len(value) > MAX_LOTS:
            raise _Bad(f"at most {MAX_LOTS} lots")
        lots = []
        for item in value:
            if not isinstance(item, dict) or set(item) - {"amount", "expires_on"}:
                raise _Bad('each lot must be {"amount": n, "expires_on": "YYYY-MM-DD"}')
            lots.append(_lot(item.get("amount"), item.get("expires_on"), ctx))
        return _total_in_range(lots)
    if not isinstance(value, str):
        raise _Bad("must be lots like 500:2027-06-30;300")
    parts = [part.strip() for part in value.split(";") if part.strip()]
    if len(parts) > MAX_LOTS:
        raise _Bad(f"at most {MAX_LOTS} lots")
    lots = []
    for part in parts:
        amount, _, expires_on = part.partition(":")
        lots.append(_lot(amount, expires_on or None, ctx))
    return _total_in_range(lots)


def _total_in_range(lots: list[Lot]) -> list[Lot]:
    if sum(lot.amount for lot in lots) > MAX_POINTS:
        raise _Bad(f"at most {MAX_POINTS} points in all")
    return lots


def _vip_until(value: Any, ctx: Context) -> datetime | None:
    day = _day(value)
    return None if day is None else ctx.end_of(day)


def _tags(value: Any, ctx: Context) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.split(";")
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        raise _Bad("must be tag1;tag2 or a list of texts")
    tags = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    if len(tags) > MAX_TAGS:
        raise _Bad(f"at most {MAX_TAGS} tags")
    for tag in tags:
        if not _TAG.match(tag):
            raise _Bad(f"'{tag[:64]}': 1-64 characters, no commas, quotes, angle brackets or line breaks")
        if tag in _AUTO_TAG_NAMES or tag.startswith(_AUTO_TAG_PREFIXES):
            raise _Bad(f"'{tag}' is an automatic tag name")
    return tags


def _channel(value: Any, ctx: Context) -> str | None:
    text = _text(value, 56)  # tagged channel:<it>, 64 characters at most
    if text is not None and not _TAG.match(text):
        raise _Bad("no commas, quotes or angle brackets")
    return text


def _joined_at(value: Any, ctx: Context) -> datetime | None:
    text = _text(value, 32)
    if text is None:
        return None
    try:
        if len(text) == 10:
            moment = ctx.start_of(date.fromisoformat(text))
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=clock.business_tz())
            moment = clock.as_utc(moment)
    except ValueError:
        raise _Bad("must be YYYY-MM-DD or an ISO date-time") from None
    if moment > ctx.now or moment.year < 1900:
        raise _Bad("must not be in the future")
    return moment


_PARSERS: dict[str, tuple[str, Callable[[Any, Context], Any]]] = {
    "external_id": ("external_id", _external_id), "phone": ("phone", _phone), "unionid": ("unionid", _wechat_id),
    "openid": ("openid", _wechat_id), "name": ("name", _name), "birthday": ("birthday", _birthday),
    "gender": ("gender", _gender), "tier": ("tier", _tier), "growth": ("growth", _growth),
    "points": ("lots", _points), "vip_until": ("vip_until", _vip_until), "tags": ("tags", _tags),
    "source_channel": ("source_channel", _channel), "joined_at": ("joined_at", _joined_at),
}


def check(number: int, raw: dict[str, Any], ctx: Context) -> Row | Refused:
    """One row's values parsed and checked; every bad field is named, not only the first."""
    values: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for column, (attribute, parse) in _PARSERS.items():
        try:
            parsed = parse(raw.get(column), ctx)
        except _Bad as bad:
            errors.append((column, str(bad)))
            continue
        values[attribute] = parsed
    external_id = values.get("external_id") or _loose_id(raw.get("external_id"))
    if errors:
        return Refused(number, external_id, errors)
    return Row(number=number, **values)


def _loose_id(value: Any) -> str | None:
    """The external id as written, for the error report of a row whose id itself is bad."""
    return str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None
