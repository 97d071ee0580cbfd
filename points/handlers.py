"""The points domain listens to its own models: writes of the till's configuration renew the version token
that each API process checks before using its cached copy (points.config)."""
from __future__ import annotations


def connect() -> None:
    from points import config

    config.watch()
