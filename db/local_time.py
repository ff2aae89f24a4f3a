"""Local days and hours of stored UTC instants, computed inside the database.

Plays are stored in naive UTC. Statistics count them by the listener's local day, hour and
weekday, where a play belongs to the local hour in which it ended. SQLite has no time zones,
so the zone is handed to the query as its UTC offsets over the range: a CASE over the
instants at which the offset changes (DST), which both databases evaluate the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import peewee as pw

from db.database import database_proxy

MAX_ZONE_NAME = 64
_STEP = dt.timedelta(hours=12)  # no zone changes its offset twice within 12 hours


class InvalidTimezone(ValueError):
    """Not an IANA time zone name."""


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name` (e.g. Europe/Berlin); InvalidTimezone otherwise."""
    shown = repr(name if len(name) <= MAX_ZONE_NAME else name[:MAX_ZONE_NAME] + "…")
    if not name or len(name) > MAX_ZONE_NAME or not name.isascii():
        raise InvalidTimezone(f"a time zone is an IANA name such as Europe/Berlin, not {shown}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(
            f"a time zone is an IANA name such as Europe/Berlin, not {shown}"
        ) from None


def local_midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant the local `day` begins, as naive UTC."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def _offset(zone: zoneinfo.ZoneInfo, instant: dt.datetime) -> int:
    """Seconds east of UTC in `zone` at the naive UTC `instant`."""
    aware = instant.replace(tzinfo=dt.UTC).astimezone(zone)
    offset = aware.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _change_between(zone: zoneinfo.ZoneInfo, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """The first second in (low, high] with the offset `high` has; offsets differ at the ends."""
    target = _offset(zone, high)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _offset(zone, middle) == target:
            high = middle
        else:
            low = middle
    return high


@dataclasses.dataclass(frozen=True)
class Offsets:
    """A zone's UTC offset over a range: `first` until `changes[0]`, and so on."""

    first: int
    changes: tuple[tuple[dt.datetime, int], ...] = ()


def offsets_between(zone: zoneinfo.ZoneInfo, start: dt.datetime, end: dt.datetime) -> Offsets:
    """The zone's offsets over the naive UTC range [start, end)."""
    first = _offset(zone, start)
    changes: list[tuple[dt.datetime, int]] = []
    current, low = first, start
    while low < end:
        high = min(low + _STEP, end)
        if _offset(zone, high) != current:
            at = _change_between(zone, low, high)
            current = _offset(zone, at)
            if at < end:
                changes.append((at, current))
        low = high
    return Offsets(first, tuple(changes))


def _is_sqlite() -> bool:
    return isinstance(database_proxy.obj, pw.SqliteDatabase)


def _seconds(column: pw.Field, offsets: Offsets) -> pw.ColumnBase:
    if not offsets.changes:
        return pw.Value(offsets.first)
    cases = []
    previous = offsets.first
    for at, offset in offsets.changes:
        cases.append((column < at, previous))
        previous = offset
    return pw.Case(None, cases, previous)


EPOCH = dt.datetime(1970, 1, 1)


def local_hour_number(column: pw.Field, offsets: Offsets) -> pw.Node:
    """SQL for the local hour, as whole hours since 1970-01-01 00:00 local, of the naive UTC
    instants in `column` (at or after 1970); `local_hour` turns one back into a day and hour.

    One integer per play is cheaper to compute and to group by than a day and an hour.
    """
    seconds = _seconds(column, offsets)
    if _is_sqlite():
        unix = pw.Cast(pw.fn.strftime("%s", column), "INTEGER")
        return (unix + seconds) / 3600
    extracted = pw.fn.EXTRACT(pw.NodeList((pw.SQL("EPOCH"), pw.SQL("FROM"), column)))
    return pw.Cast(pw.fn.FLOOR((extracted + seconds) / 3600), "INTEGER")


def local_hour(number: int) -> dt.datetime:
    """The local hour (naive) that `local_hour_number` numbered."""
    return EPOCH + dt.timedelta(hours=number)
