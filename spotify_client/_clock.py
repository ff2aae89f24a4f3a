"""The wall clock every part of the package defaults to (each one lets tests inject its own)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Aware UTC now."""
    return dt.datetime.now(dt.UTC)
