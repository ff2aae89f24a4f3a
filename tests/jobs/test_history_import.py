"""Importing an extended streaming history: what lands, what is counted, what is refused."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import pytest

import jobs.history_import
from db import history_import
from db.database import Database
from db.models import (
    AlbumName,
    ArtistName,
    Episode,
    EpisodePlay,
    Play,
    Show,
    Track,
    TrackCredit,
)
from db.users import UnknownUser
from jobs.history_import import DUPLICATE, import_history
from streaming_history import IN_THE_FUTURE, NOTHING_KEPT, TOO_EARLY, MalformedExport
from tests.factories import episode_entry, make_track, make_user, track_entry, write_export

TRACK_A = "4uLU6hMCjMI75M1A2tKUQC"
TRACK_B = "7ouMYWpwJ422jRcDASZB7P"
EPISODE = "512ojhOuo1ktJprKbVcKyQ"


def _plays(database: Database) -> list[tuple[Any, ...]]:
    query = Play.select(Play.track, Play.played_at, Play.ms_played, Play.short, Play.origin)
    ordered = query.order_by(Play.played_at, Play.track).tuples()
    return database.run_sync(lambda: list(cast(Iterable[tuple[Any, ...]], ordered)))


def _import(database: Database, *paths: Path) -> Any:
    return import_history(database, "ann", list(paths), show_progress=False)


@pytest.fixture
def ann(database: Database) -> Database:
    database.run_sync(make_user, "ann")
    return database


def test_music_and_podcasts_land_with_their_names(ann: Database, tmp_path: Path) -> None:
    export = write_export(
        tmp_path / "Streaming_History_Audio_2019-2020_0.json",
        [
            track_entry(TRACK_A, "2019-03-01T10:00:00Z", 200_000),
            track_entry(TRACK_A, "2019-03-01T10:03:00Z", 29_999),
            episode_entry(EPISODE, "2019-03-01T11:00:00Z", 1_800_000),
            {
                **track_entry(TRACK_B, "2019-03-01T12:00:00Z"),
                "spotify_track_uri": None,
                "master_metadata_track_name": None,
            },
        ],
    )
    report = _import(ann, export)
    assert (report.imported, report.already_present) == (3, 0)
    assert report.skipped == {NOTHING_KEPT: 1}
    assert _plays(ann) == [
        (TRACK_A, dt.datetime(2019, 3, 1, 10, 0), 200_000, False, Play.IMPORTED),
        (TRACK_A, dt.datetime(2019, 3, 1, 10, 3), 29_999, True, Play.IMPORTED),
    ]

    def catalogue() -> tuple[Any, ...]:
        track = Track.get_by_id(TRACK_A)
        credit = TrackCredit.get_by_id(TRACK_A)
        artist = ArtistName.get_by_id(credit.artist_name_id)
        episode = Episode.get_by_id(EPISODE)
        episode_play = EpisodePlay.get()
        return (
            (track.name, track.uri, track.album_id),
            (artist.name, artist.artist_id, AlbumName.get_by_id(credit.album_name_id).name),
            (episode.name, Show.get_by_id(episode.show_id).name),
            (episode_play.ms_played, episode_play.played_at),
            Show.select().count(),
            ArtistName.select().count(),
            AlbumName.select().count(),
        )

    assert ann.run_sync(catalogue) == (
        (f"Song {TRACK_A}", f"spotify:track:{TRACK_A}", None),
        ("Nina Simone", None, "Pastel Blues"),
        (f"Episode {EPISODE}", "The Daily"),
        (1_800_000, dt.datetime(2019, 3, 1, 11, 0)),
        1,
        1,
        1,
    )


def test_importing_the_same_export_twice_adds_nothing(ann: Database, tmp_path: Path) -> None:
    entries = [
        track_entry(TRACK_A, "2019-03-01T10:00:00Z"),
        track_entry(TRACK_B, "2019-03-01T10:00:00Z"),  # two rows may end in the same second
        episode_entry(EPISODE, "2019-03-01T11:00:00Z"),
    ]
    export = write_export(tmp_path / "Streaming_History_Audio_2019.json", entries)
    assert _import(ann, export).imported == 3
    again = _import(ann, export)
    assert (again.imported, again.already_present) == (0, 3)
    assert len(_plays(ann)) == 2
    assert ann.run_sync(EpisodePlay.select().count) == 1


def test_exact_duplicate_rows_count_once(ann: Database, tmp_path: Path) -> None:
    row = track_entry(TRACK_A, "2019-03-01T10:00:00Z")
    first = write_export(tmp_path / "Streaming_History_Audio_2019_0.json", [row, row])
    second = write_export(tmp_path / "Streaming_History_Audio_2019_1.json", [row])
    report = _import(ann, first, second)
    assert (report.imported, report.skipped) == (1, {DUPLICATE: 2})
    assert len(_plays(ann)) == 1


@pytest.mark.parametrize(
    ("polled_track", "polled_at", "imported"),
    [
        pytest.param(TRACK_A, dt.datetime(2019, 3, 1, 10, 0, 9, 900_000), 0, id="same-track-9.9s"),
        pytest.param(TRACK_A, dt.datetime(2019, 3, 1, 9, 59, 50), 0, id="same-track-10s-before"),
        pytest.param(TRACK_A, dt.datetime(2019, 3, 1, 10, 0, 11), 1, id="same-track-11s"),
        pytest.param(TRACK_B, dt.datetime(2019, 3, 1, 10, 0, 1), 1, id="other-track-1s"),
    ],
)
def test_a_polled_play_is_not_imported_again(
    ann: Database, tmp_path: Path, polled_track: str, polled_at: dt.datetime, imported: int
) -> None:
    def poll() -> None:
        make_track(polled_track)
        Play.create(user=1, track=polled_track, played_at=polled_at)

    ann.run_sync(poll)
    export = write_export(
        tmp_path / "Streaming_History_Audio_2019.json",
        [track_entry(TRACK_A, "2019-03-01T10:00:00Z")],
    )
    report = _import(ann, export)
    assert (report.imported, report.already_present) == (imported, 1 - imported)
    assert len(_plays(ann)) == 1 + imported


def test_plays_at_implausible_times_are_counted_as_skipped_and_never_stored(
    ann: Database, tmp_path: Path
) -> None:
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    export = write_export(
        tmp_path / "Streaming_History_Audio_2019.json",
        [
            track_entry(TRACK_A, "1970-01-01T00:00:00Z"),
            track_entry(TRACK_A, "2019-03-01T10:00:00Z"),
            episode_entry(EPISODE, "2099-01-01T00:00:00Z"),
            track_entry(TRACK_B, future),
        ],
    )
    report = _import(ann, export)
    assert (report.imported, report.skipped) == (1, {TOO_EARLY: 1, IN_THE_FUTURE: 2})
    assert _plays(ann) == [(TRACK_A, dt.datetime(2019, 3, 1, 10), 200_000, False, Play.IMPORTED)]
    assert ann.run_sync(EpisodePlay.select().count) == 0


def test_a_name_with_nul_characters_is_stored_without_them(ann: Database, tmp_path: Path) -> None:
    # PostgreSQL refuses NUL in text; the same import must work on both databases.
    export = write_export(
        tmp_path / "Streaming_History_Audio_2019.json",
        [
            track_entry(
                TRACK_A, "2019-03-01T10:00:00Z", name="Nu\x00ll", artist="A\x00", album="\x00B"
            ),
            episode_entry(EPISODE, "2019-03-01T11:00:00Z", show="Sh\x00ow"),
        ],
    )
    assert _import(ann, export).imported == 2

    def names() -> tuple[Any, ...]:
        credit = TrackCredit.get_by_id(TRACK_A)
        return (
            Track.get_by_id(TRACK_A).name,
            ArtistName.get_by_id(credit.artist_name_id).name,
            AlbumName.get_by_id(credit.album_name_id).name,
            Show.get_by_id(Episode.get_by_id(EPISODE).show_id).name,
        )

    assert ann.run_sync(names) == ("Null", "A", "B", "Show")


def test_a_malformed_file_is_named_and_adds_nothing(ann: Database, tmp_path: Path) -> None:
    good = write_export(
        tmp_path / "Streaming_History_Audio_2019_0.json",
        [track_entry(TRACK_A, "2019-03-01T10:00:00Z")],
    )
    bad = write_export(
        tmp_path / "Streaming_History_Audio_2019_1.json",
        [track_entry(TRACK_B, "2019-03-02T10:00:00Z"), track_entry(TRACK_B, "yesterday")],
    )
    with pytest.raises(MalformedExport) as raised:
        _import(ann, good, bad)
    message = str(raised.value)
    assert message.startswith(f"{bad}: entry 1: ts must be an ISO 8601 time")
    assert "\n" not in message
    assert [row[0] for row in _plays(ann)] == [TRACK_A]


def test_an_interrupted_import_resumes(
    ann: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [
        write_export(
            tmp_path / f"Streaming_History_Audio_2019_{n}.json",
            [track_entry(track, f"2019-03-0{n + 1}T10:00:00Z") for track in (TRACK_A, TRACK_B)],
        )
        for n in range(3)
    ]
    calls = 0
    real = history_import.store_exported_plays

    def dies_in_the_second_file(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            # Half of the file written, then the process dies: the transaction takes it back.
            with Play._meta.database.atomic():
                Play.insert(
                    user=1,
                    track=TRACK_A,
                    played_at=dt.datetime(2019, 3, 2, 10),
                    origin=Play.IMPORTED,
                ).execute()
                raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("jobs.history_import.store_exported_plays", dies_in_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        _import(ann, *files)
    assert len(_plays(ann)) == 2
    monkeypatch.undo()
    report = _import(ann, *files)
    assert (report.imported, report.already_present) == (4, 2)
    assert len(_plays(ann)) == 6


def test_the_zip_spotify_sends_is_read_member_by_member(ann: Database, tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name, track in (("Audio_2019_0", TRACK_A), ("Video_2019_0", TRACK_B)):
            entries = [track_entry(track, "2019-03-01T10:00:00Z")]
            write_export(tmp_path / "tmp.json", entries)
            handle.write(tmp_path / "tmp.json", f"Spotify Extended/Streaming_History_{name}.json")
        handle.writestr("Spotify Extended/ReadMeFirst_ExtendedStreamingHistory.pdf", b"%PDF")
    report = _import(ann, archive)
    assert (report.files, report.imported) == (2, 2)


def test_an_unknown_user_or_path_is_refused_before_anything_is_read(
    ann: Database, tmp_path: Path
) -> None:
    with pytest.raises(UnknownUser):
        import_history(ann, "nobody", [tmp_path], show_progress=False)
    with pytest.raises(MalformedExport, match="no such file"):
        _import(ann, tmp_path / "missing.zip")


def _planner_rows(database: Database, model: type[Play | EpisodePlay]) -> float:
    """How many rows PostgreSQL's planner believes the table holds (-1: never analysed)."""
    sql = "SELECT reltuples FROM pg_class WHERE relname = %s"
    name = model._meta.table_name
    return float(database.run_sync(lambda: database.peewee.execute_sql(sql, (name,)).fetchone()[0]))


def _sqlite_statistics(database: Database) -> list[Any]:
    sql = "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
    return list(database.run_sync(lambda: database.peewee.execute_sql(sql).fetchall()))


@pytest.mark.parametrize(("plays", "analysed"), [(3, True), (2, False)])
def test_a_large_import_leaves_the_planners_statistics_fresh(
    ann: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plays: int, analysed: bool
) -> None:
    monkeypatch.setattr(jobs.history_import, "ANALYZE_AFTER_PLAYS", 3)
    entries = [track_entry(TRACK_A, f"2019-03-01T1{n}:00:00Z") for n in range(plays - 1)]
    episode = episode_entry(EPISODE, "2019-03-02T10:00:00Z")
    _import(ann, write_export(tmp_path / "a.json", [*entries, episode]))

    if ann.is_postgres:
        # Autovacuum would get there within minutes; a recap asked before took 2.8 s, not 23 ms.
        counted = (_planner_rows(ann, Play), _planner_rows(ann, EpisodePlay))
        assert counted == ((plays - 1, 1) if analysed else (-1, -1))
    else:
        # SQLite plans by fixed rules until ANALYZE first runs, so no import makes them stale.
        assert _sqlite_statistics(ann) == []
