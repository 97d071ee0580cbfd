"""Ids a lower domain stores that a higher domain owns: a tier's birthday gift and a VIP plan's monthly pack
name coupon templates, but tiers and VIP sit below coupons (docs/layers.md) and cannot ask coupons directly.

The owner registers how to tell whether an id exists (`provide`, at import of its module); the lower domain
checks through `check`. An unregistered kind is a wiring error, never a silent pass.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from app.errors import ValidationError

_owners: dict[str, Callable[[int], bool]] = {}


def provide(kind: str, exists: Callable[[int], bool]) -> None:
    _owners[kind] = exists


def check(kind: str, ids: Iterable[int], field: str) -> None:
    """422 `unknown_<kind>` on the first id its owner does not know."""
    exists = _owners.get(kind)
    if exists is None:
        raise RuntimeError(f"no domain provides {kind} ids: is its package part of the app?")
    for value in ids:
        if not exists(value):
            label = kind.replace("_", " ").capitalize()
            raise ValidationError(field, f"{label} {value} does not exist.", code=f"unknown_{kind}")
