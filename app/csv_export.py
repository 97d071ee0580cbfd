"""CSV files people open in Excel or WPS: every export of the API is written here.

Two things a plain `csv.writer` gets wrong for that reader:

- A text cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which Excel skips before one)
  is run as a formula: a shopper's nickname `=cmd|' /C calc'!A0` in the KOC export would run on marketing's
  machine (CSV injection). Such a cell gets a leading `'`, which the spreadsheet shows as text. Numbers are
  written as numbers: -5 is a number, not a formula.
- Without a byte-order mark Excel reads UTF-8 as the local code page, and 普通会员 comes out as mojibake.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime

from flask import Response

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """One cell as the spreadsheet should read it: text that could start a formula is quoted with `'`."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """The whole file: BOM, header, rows; every cell through `cell`."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()


def response(text: str, name: str) -> Response:
    """An attachment `<name>.csv`; the charset is said so that a browser does not guess either."""
    return Response(text, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
