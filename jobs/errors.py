"""Unwrapping TaskGroup failures for callers that expect one plain error."""

from __future__ import annotations


def first_error(group: BaseExceptionGroup[Exception]) -> Exception:
    """The first exception inside `group`, however deeply grouped."""
    first = group.exceptions[0]
    return first_error(first) if isinstance(first, BaseExceptionGroup) else first
