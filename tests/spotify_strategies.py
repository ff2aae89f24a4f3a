"""Hypothesis strategies for what Spotify sends: one per Spotify object, as the Web API
documents it, plus mutations (dropped fields, nulls, wrong types, out-of-range numbers,
local files, episodes) and the checks that what was kept stays inside the contract."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
from hypothesis import strategies as st

import spotify_models as sm

BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")

# A few ids only, so pages repeat items (duplicates are part of what Spotify sends).
ids = st.text(BASE62, min_size=22, max_size=22) | st.sampled_from(
    ["4uLU6hMCjMI75M1A2tKUQC", "0VjIjW4GlUZAMYd2vXMi3b", "7ouMYWpwJ422jRcDASZB7P"]
)
names = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
urls = st.just("https://i.scdn.co/image/ab67616d0000b273")
images = st.lists(
    st.fixed_dictionaries(
        {"url": urls, "height": st.integers(64, 640), "width": st.integers(64, 640)}
    ),
    max_size=2,
)
release_dates = st.one_of(
    st.dates(dt.date(1950, 1, 1), dt.date(2026, 11, 1)).map(dt.date.isoformat),
    st.integers(1950, 2026).map(str),
    st.just("0000"),
)
instants = st.datetimes(
    dt.datetime(2007, 1, 1), dt.datetime(2026, 11, 19), timezones=st.just(dt.UTC)
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))


def _identified(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """What every Spotify object of `kind` starts with: its id, name, type and uri."""
    item_id = draw(ids)
    return {"id": item_id, "name": draw(names), "type": kind, "uri": f"spotify:{kind}:{item_id}"}


@st.composite
def artist_refs(draw: st.DrawFn) -> dict[str, Any]:
    """A simplified artist, as tracks and albums carry it."""
    return _identified(draw, "artist")


@st.composite
def artists(draw: st.DrawFn) -> dict[str, Any]:
    """A full artist; genres and popularity only an extended-quota app still gets."""
    artist = draw(artist_refs())
    if draw(st.booleans()):
        artist["genres"] = draw(st.lists(st.text(min_size=1, max_size=20), max_size=3))
        artist["popularity"] = draw(st.integers(0, 100))
    artist["images"] = draw(images)
    return artist


@st.composite
def albums(draw: st.DrawFn) -> dict[str, Any]:
    return {
        **_identified(draw, "album"),
        "release_date": draw(release_dates),
        "artists": draw(st.lists(artist_refs(), min_size=1, max_size=2)),
        "images": draw(images),
    }


@st.composite
def tracks(draw: st.DrawFn) -> dict[str, Any]:
    track = {
        **_identified(draw, "track"),
        "is_local": False,
        "duration_ms": draw(st.integers(1, 3_600_000)),
        "explicit": draw(st.booleans()),
        "artists": draw(st.lists(artist_refs(), min_size=1, max_size=3)),
        "album": draw(albums()),
    }
    if draw(st.booleans()):
        track["popularity"] = draw(st.integers(0, 100))
        track["external_ids"] = {"isrc": "GBAYE0601498"}
    return track


@st.composite
def local_files(draw: st.DrawFn) -> dict[str, Any]:
    """A file from the user's own device, as Spotify lists it among tracks."""
    title = draw(st.text(BASE62, min_size=1, max_size=12))
    return {
        "id": draw(st.none() | ids),
        "name": title,
        "type": "track",
        "is_local": True,
        "uri": f"spotify:local:Me:Demos:{title}:181",
        "duration_ms": draw(st.integers(1, 600_000)),
        "artists": [{"id": None, "name": "Me", "type": "artist", "uri": None}],
        "album": {"id": None, "name": "Demos", "type": "album", "uri": None},
    }


@st.composite
def episodes(draw: st.DrawFn) -> dict[str, Any]:
    return {
        **_identified(draw, "episode"),
        "duration_ms": draw(st.integers(1, 7_200_000)),
        "show": {"id": draw(ids), "name": draw(names), "type": "show"},
    }


def _feature_value(name: str) -> st.SearchStrategy[float | int]:
    low, high = sm.FEATURE_RANGES[name]
    if name in {"key", "mode", "time_signature"}:
        return st.integers(int(low), int(high))
    return st.floats(low, high, allow_nan=False)


@st.composite
def audio_features(draw: st.DrawFn, track_id: str | None = None) -> dict[str, Any]:
    values = {name: draw(_feature_value(name)) for name in sm.AUDIO_FEATURE_NAMES}
    return {"id": track_id or draw(ids), "type": "audio_features", **values}


@st.composite
def plays(draw: st.DrawFn, items: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    return {"track": draw(items), "played_at": draw(instants), "context": None}


@st.composite
def saved(draw: st.DrawFn, items: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    return {"added_at": draw(instants), "track": draw(items)}


# -- mutations: what a schema-valid random mock, or a broken Spotify, sends -----------------

ODD_VALUES = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.text(max_size=5),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.just("\x00"),
    st.just("\ud800"),
)
OUT_OF_RANGE = st.sampled_from([2.1e38, -85359746, -1, 101, 10**20, -5.5, 1e308])
# Text JSON can carry and a database cannot: lone surrogates, NUL, blanks, overlong names.
ODD_TEXT = st.sampled_from(["\ud800", "a\udfffb", "a\x00b", "  \t ", "x" * 600, "spotify:local:x"])
ODD_INSTANTS = st.sampled_from(
    ["1890-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "lorem ipsum", "", "2026-13-45T00:00:00Z"]
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """`base`, then (mostly) one to three mutations somewhere inside it."""
    value = draw(base)
    for _ in range(draw(st.integers(0, 3))):
        value = _mutate(draw, value)
    return value


def _mutate(draw: st.DrawFn, value: dict[str, Any]) -> dict[str, Any]:
    target = _pick_object(draw, value)
    if not target:
        return value
    key = draw(st.sampled_from(sorted(target)))
    how = draw(
        st.sampled_from(
            ["drop", "odd", "out-of-range", "odd-instant", "odd-text", "local", "episode"]
        )
    )
    if how == "drop":
        del target[key]
    elif how == "odd":
        target[key] = draw(ODD_VALUES)
    elif how == "out-of-range":
        target[key] = draw(OUT_OF_RANGE)
    elif how == "odd-instant":
        target[key] = draw(ODD_INSTANTS)
    elif how == "odd-text":
        target[key] = draw(ODD_TEXT)
    elif how == "local":
        target.update(is_local=True, id=None)
    else:
        target["type"] = "episode"
    return value


def _pick_object(draw: st.DrawFn, value: dict[str, Any]) -> dict[str, Any]:
    """The object itself or one nested inside it (an album, an artist, a track)."""
    nested: list[dict[str, Any]] = [value]
    for inner in value.values():
        if isinstance(inner, dict):
            nested.append(inner)
        elif isinstance(inner, list):
            nested.extend(item for item in inner if isinstance(item, dict))
    return draw(st.sampled_from(nested))


def as_sent(status: int, body: Any) -> Any:
    """An answer carrying `body` as a JSON encoder may write it: lone surrogates escaped,
    NaN and Infinity as bare words (httpx's own encoder refuses both)."""
    content = json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


def pages_of(item: st.SearchStrategy[Any], max_size: int = 12) -> st.SearchStrategy[list[Any]]:
    """A page's items: possibly empty, possibly with nulls, duplicates kept."""
    return st.lists(st.one_of(item, st.none()) if max_size else item, max_size=max_size)


cursors = st.one_of(
    st.none(),
    st.integers(0, 2_000_000_000_000).map(str),
    st.integers(0, 2_000_000_000_000),
    st.sampled_from(["lorem ipsum", "12abc", "-5", "1.5", "", "NaN"]),
    st.floats(allow_nan=True),
    st.booleans(),
)


# -- the contract, checked on what was kept ---------------------------------------------------


def storable_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.strip() != ""
        and "\x00" not in value
        and len(value) <= sm.MAX_NAME
        and encodes_as_utf8(value)
    )


def encodes_as_utf8(value: str) -> bool:
    """Whether a database and a JSON answer can carry it (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def in_range(value: Any, bounds: tuple[float, float], slack: float = 0.0) -> bool:
    """`value` a finite number within `bounds` (with `slack` for PostgreSQL's REAL)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and bounds[0] - slack <= value <= bounds[1] + slack
    )


def feature_slack(bounds: tuple[float, float]) -> float:
    """REAL keeps about seven significant digits: a bound may come back a hair outside."""
    return 1e-6 * max(1.0, abs(bounds[0]), abs(bounds[1]))


def features_in_contract(values: Mapping[str, Any]) -> bool:
    return all(
        in_range(values[name], bounds, feature_slack(bounds))
        for name, bounds in sm.FEATURE_RANGES.items()
    )
