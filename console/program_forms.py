"""What the program pages' forms send, read into the bodies the admin API takes. Only reading happens here:
each body then goes through the API's own schema and service, so a page accepts exactly what the API
accepts and every refusal names the API's field (shown next to the input of that name)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import MultiDict

from app.errors import ValidationError

MAX_LIST_ITEMS = 500  # a pasted list longer than any schema allows is refused by the schema, not sliced here


def text(form: MultiDict, name: str) -> str | None:
    """The trimmed text, or None for an empty input (the API's "not given")."""
    value = (form.get(name) or "").strip()
    return value or None


def whole(form: MultiDict, name: str) -> int | None:
    """A whole number typed into `name`, None when empty; anything else is the field's 422."""
    value = text(form, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(name, "Not a whole number.", code="bad_quantity") from None


def fen(form: MultiDict, name: str) -> int | None:
    """Yuan typed by marketing ('12.3') as fen (1230); None when empty. Zero is allowed (a threshold of
    none); the schema decides the range."""
    value = text(form, name)
    if value is None:
        return None
    try:
        amount = Decimal(value) * 100
    except InvalidOperation:
        raise ValidationError(name, "Not an amount.", code="bad_amount") from None
    if not amount.is_finite() or amount != amount.to_integral_value() or amount < 0:
        raise ValidationError(name, "Not an amount.", code="bad_amount")
    return int(amount)


def ticked(form: MultiDict, name: str) -> bool:
    return form.get(name) in ("1", "on", "true", "y")


def words(form: MultiDict, name: str) -> list[str]:
    """Codes from a multi-select, or typed separated by commas, spaces or 、 (tier codes, tags, SKUs)."""
    values: list[str] = []
    for value in form.getlist(name):
        values.extend(part for part in value.replace("，", ",").replace("、", ",").replace(" ", ",").split(",")
                      if part.strip())
    return list(dict.fromkeys(part.strip() for part in values))[:MAX_LIST_ITEMS]


def ids(form: MultiDict, name: str) -> list[int]:
    """Ids from a multi-select; a value that is no id is the field's 422."""
    try:
        return [int(value) for value in form.getlist(name) if value.strip()][:MAX_LIST_ITEMS]
    except ValueError:
        raise ValidationError(name, "Not an id.", code="bad_quantity") from None


def rows(form: MultiDict, prefix: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Repeated rows of inputs named `<prefix>.<column>` (one value per row, in page order); rows left
    wholly empty are dropped, so a page can offer a few blank rows for additions."""
    lists = [form.getlist(f"{prefix}.{column}") for column in columns]
    out = []
    for values in zip(*lists, strict=False):
        row = {column: value.strip() for column, value in zip(columns, values, strict=True)}
        if any(row.values()):
            out.append(row)
    return out[:MAX_LIST_ITEMS]


def row_int(row: dict[str, str], column: str, field: str) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise ValidationError(field, "Not a whole number.", code="bad_quantity") from None


def given(body: dict) -> dict:
    """The body without the inputs left empty: a PATCH changes only what the form filled in."""
    return {name: value for name, value in body.items() if value is not None}
