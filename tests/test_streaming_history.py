"""The export parser: whatever a file holds, it answers plays, skips, or one MalformedExport."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spotify_models
from streaming_history import (
    AUDIOBOOK,
    IN_THE_FUTURE,
    NO_NAME,
    NOTHING_KEPT,
    TOO_EARLY,
    ExportedPlay,
    ExportFile,
    MalformedExport,
    Skipped,
    parse_entry,
    parse_file,
)
from tests.factories import episode_entry, track_entry

BOUNDED = settings(max_examples=150, deadline=None)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FIELDS = [*track_entry("x", "2020-01-01T00:00:00Z"), "audiobook_title", "endTime"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# Entries that look like the export's rows, with any value in any field.
entry_like = st.dictionaries(st.sampled_from(FIELDS), json_values | st.text(max_size=60))
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
# Plausible ends of a play: from Spotify's beginning to a day past NOW (clocks drift).
moments = st.datetimes(
    min_value=dt.datetime(2006, 1, 1),
    max_value=(NOW + spotify_models.PLAUSIBLE_AHEAD).replace(tzinfo=None),
    timezones=st.just(dt.UTC),
)
spotify_ids = st.text(BASE62, min_size=22, max_size=22)
names = st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=80).filter(
    lambda s: s.strip() == s and s
)


def _outcome(parse: Callable[[], object]) -> object:
    """What parsing answered, or the message of the MalformedExport it raised."""
    try:
        return parse()
    except MalformedExport as exc:
        return str(exc)


@BOUNDED
@given(entry=json_values | entry_like)
def test_any_entry_is_a_play_a_skip_or_malformed(entry: Any) -> None:
    parsed = _outcome(lambda: parse_entry(entry))
    if isinstance(parsed, str):
        assert parsed
        assert "\n" not in parsed
    else:
        assert isinstance(parsed, ExportedPlay | Skipped)


@BOUNDED
@given(content=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_file_content_is_entries_or_one_line_naming_the_file(content: bytes) -> None:
    parsed = _outcome(lambda: parse_file(ExportFile("Streaming_History_Audio_2020.json", content)))
    if isinstance(parsed, str):
        assert parsed.startswith("Streaming_History_Audio_2020.json: ")
        assert "\n" not in parsed
    else:
        assert isinstance(parsed, list)


@BOUNDED
@given(moment=moments, ms=st.integers(0, 2**31 - 1), track_id=spotify_ids, name=names)
def test_a_music_row_becomes_a_play_at_its_utc_end(
    moment: dt.datetime, ms: int, track_id: str, name: str
) -> None:
    ts = moment.isoformat().replace("+00:00", "Z")
    entry = track_entry(track_id, ts, ms, name=name, artist=name, album=name)
    parsed = parse_entry(entry, now=NOW)
    assert parsed == ExportedPlay(
        "track", track_id, moment.replace(tzinfo=None), ms, name, name, name
    )


@BOUNDED
@given(moment=moments, offset=st.integers(-14 * 60, 14 * 60), episode_id=spotify_ids)
def test_an_episode_row_becomes_an_episode_play_whatever_the_offset(
    moment: dt.datetime, offset: int, episode_id: str
) -> None:
    local = moment.astimezone(dt.timezone(dt.timedelta(minutes=offset)))
    parsed = parse_entry(episode_entry(episode_id, local.isoformat(), 60_000, show="Show"), now=NOW)
    assert isinstance(parsed, ExportedPlay)
    assert (parsed.kind, parsed.item_id, parsed.artist_or_show, parsed.album) == (
        "episode",
        episode_id,
        "Show",
        None,
    )
    assert parsed.ended_at == moment.replace(tzinfo=None)


@BOUNDED
@given(name=st.text(min_size=1, max_size=80), artist=st.text(max_size=80))
def test_a_kept_name_holds_no_nul_whatever_the_export_holds(name: str, artist: str) -> None:
    parsed = parse_entry(
        _row(master_metadata_track_name=name, master_metadata_album_artist_name=artist)
    )
    if isinstance(parsed, ExportedPlay):
        assert parsed.name == name.replace("\x00", "")
        assert "\x00" not in (parsed.artist_or_show or "")
    else:
        assert parsed == Skipped(NO_NAME)
        assert name.replace("\x00", "") == ""


any_moment = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)


@BOUNDED
@given(moment=any_moment, episode=st.booleans(), offset=st.integers(-14 * 60, 14 * 60))
def test_a_play_before_spotify_or_in_the_future_is_skipped_with_its_reason(
    moment: dt.datetime, episode: bool, offset: int
) -> None:
    local = moment.astimezone(dt.timezone(dt.timedelta(minutes=offset)))
    make = episode_entry if episode else track_entry
    parsed = parse_entry(make("4uLU6hMCjMI75M1A2tKUQC", local.isoformat()), now=NOW)
    if moment < spotify_models.PLAUSIBLE_SINCE:
        assert parsed == Skipped(TOO_EARLY)
    elif moment > NOW + spotify_models.PLAUSIBLE_AHEAD:
        assert parsed == Skipped(IN_THE_FUTURE)
    else:
        assert isinstance(parsed, ExportedPlay)
        assert parsed.ended_at == moment.replace(tzinfo=None)


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        pytest.param("2005-12-31T23:59:59Z", TOO_EARLY, id="last-second-of-2005"),
        pytest.param("1970-01-01T00:00:00Z", TOO_EARLY, id="unix-epoch"),
        pytest.param("2026-06-02T12:00:01Z", IN_THE_FUTURE, id="a-day-and-a-second-ahead"),
        pytest.param("9999-12-31T23:59:59Z", IN_THE_FUTURE, id="year-9999"),
    ],
)
def test_the_edges_of_a_plausible_play(ts: str, reason: str) -> None:
    assert parse_entry(_row(ts=ts), now=NOW) == Skipped(reason)
    assert parse_file(ExportFile("f.json", json.dumps([_row(ts=ts)]).encode()), now=NOW) == [
        Skipped(reason)
    ]


def test_a_play_is_judged_against_the_clock_by_default() -> None:
    assert parse_entry(_row(ts=(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat())) == (
        Skipped(IN_THE_FUTURE)
    )
    assert isinstance(parse_entry(_row(ts="2006-01-01T00:00:00Z")), ExportedPlay)


def _row(**changes: Any) -> dict[str, Any]:
    return {**track_entry("4uLU6hMCjMI75M1A2tKUQC", "2020-01-01T00:00:00Z"), **changes}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param(
            _row(spotify_track_uri=None, master_metadata_track_name=None), NOTHING_KEPT, id="empty"
        ),
        pytest.param(_row(spotify_track_uri="spotify:local:a:b:c:200"), NOTHING_KEPT, id="local"),
        pytest.param(
            _row(spotify_track_uri=None, audiobook_title="Dune"), AUDIOBOOK, id="audiobook"
        ),
        pytest.param(_row(master_metadata_track_name=None), NO_NAME, id="nameless-track"),
    ],
)
def test_rows_with_nothing_to_keep_are_skipped_with_a_reason(
    row: dict[str, Any], reason: str
) -> None:
    assert parse_entry(row) == Skipped(reason)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param(_row(ms_played="12"), "ms_played must be a whole number", id="ms-text"),
        pytest.param(_row(ms_played=-1), "ms_played must be a whole number", id="ms-negative"),
        pytest.param(_row(ms_played=True), "ms_played must be a whole number", id="ms-bool"),
        pytest.param(_row(ts="2020-13-01T00:00:00Z"), "ts must be an ISO 8601", id="ts-month-13"),
        pytest.param(_row(spotify_track_uri="spotify:episode:abc"), "spotify:track:", id="uri"),
        pytest.param(_row(master_metadata_track_name=7), "must be text", id="name-number"),
        pytest.param(
            {"endTime": "2020-01-01 10:00", "msPlayed": 1}, "Extended streaming", id="short-export"
        ),
    ],
)
def test_a_malformed_row_says_what_is_wrong(row: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedExport, match=message):
        parse_entry(row)


def test_personal_fields_are_never_kept() -> None:
    parsed = parse_entry(_row())
    assert "192.0.2.1" not in repr(parsed)
    assert "android" not in repr(parsed)
