"""Extended streaming history exports generated for the emulated users."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from spotify_emulator import HistoryExport, World, generate_history
from spotify_emulator.history_export import FOLDER, SKIP_MS
from tests.spotify_emulator.helpers import Connect

FIELDS = [
    "ts",
    "platform",
    "ms_played",
    "conn_country",
    "ip_addr",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
    "reason_start",
    "reason_end",
    "shuffle",
    "skipped",
    "offline",
    "offline_timestamp",
    "incognito_mode",
]
TRACK_FIELDS = [f for f in FIELDS if f.startswith("master_metadata")] + ["spotify_track_uri"]
EPISODE_FIELDS = ["episode_name", "episode_show_name", "spotify_episode_uri"]


@pytest.fixture(scope="module")
def export(world: World) -> HistoryExport:
    """Two years of the first user's listening."""
    return generate_history(world, world.users[0].id, years=2)


def _moment(ts: str) -> dt.datetime:
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def test_rows_carry_every_field_of_the_real_format(export: HistoryExport) -> None:
    for row in [*export.audio, *export.video]:
        assert list(row) == FIELDS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["ts"])
        assert isinstance(row["ms_played"], int)
        assert row["ms_played"] >= 0
        assert all(row[f] is None for f in FIELDS if f.startswith("audiobook"))


def test_rows_are_music_podcast_or_all_null(export: HistoryExport) -> None:
    kinds = {"music": 0, "episode": 0, "null": 0}
    for row in [*export.audio, *export.video]:
        track = [row[f] is not None for f in TRACK_FIELDS]
        episode = [row[f] is not None for f in EPISODE_FIELDS]
        if all(track):
            assert not any(episode)
            kinds["music"] += 1
        elif all(episode):
            assert not any(track)
            kinds["episode"] += 1
        else:
            assert not any(track) and not any(episode)  # noqa: PT018 (one rule: all null)
            kinds["null"] += 1
    assert kinds["music"] > 20 * kinds["episode"] > 0
    assert kinds["null"] > 0


def test_plays_are_in_the_past_oldest_first_and_span_the_years(
    world: World, export: HistoryExport
) -> None:
    ends = [_moment(r["ts"]) for r in export.audio]
    assert ends == sorted(ends)
    assert ends[-1] <= world.now
    assert ends[0] < world.now - dt.timedelta(days=700)
    assert 2 * 365 * 41 <= len(export.audio) + len(export.video) <= 2 * 365 * 41 * 1.01


def test_music_matches_the_users_taste_and_ends_with_recent_plays(
    world: World, export: HistoryExport
) -> None:
    user = world.users[0]
    uris = [r["spotify_track_uri"] for r in export.audio if r["spotify_track_uri"]]
    tracks = [world.tracks[uri.removeprefix("spotify:track:")] for uri in uris]
    assert all(t.artist_ids[0] in user.favourites for t in tracks)
    assert {world.artists[t.artist_ids[0]].archetype for t in tracks} <= set(user.archetypes)
    tail = export.audio[-len(user.recent) :]
    for row, (track_id, played_at) in zip(tail, reversed(user.recent), strict=True):
        assert row["spotify_track_uri"] == f"spotify:track:{track_id}"
        assert abs((_moment(row["ts"]) - played_at).total_seconds()) < 1
        first = row["master_metadata_track_name"]
        assert first == world.tracks[track_id].name


def test_later_years_bring_artists_new_to_the_earlier_data(
    world: World, export: HistoryExport
) -> None:
    cut = world.now - dt.timedelta(days=120)
    before: set[str] = set()
    after: set[str] = set()
    for row in export.audio:
        if row["master_metadata_album_artist_name"]:
            (before if _moment(row["ts"]) < cut else after).add(
                row["master_metadata_album_artist_name"]
            )
    assert len(after - before) >= 3


def test_short_skips_offline_and_episodes(world: World, export: HistoryExport) -> None:
    user = world.users[0]
    skips = [r for r in export.audio if r["skipped"]]
    assert skips
    assert all(r["ms_played"] < SKIP_MS and r["reason_end"] == "fwdbtn" for r in skips)
    offline = [r for r in export.audio if r["offline"]]
    assert offline
    assert all(isinstance(r["offline_timestamp"], int) for r in offline)
    shows = {world.shows[s].name for s in user.show_ids}
    episodes = [r for r in [*export.audio, *export.video] if r["spotify_episode_uri"]]
    assert {r["episode_show_name"] for r in episodes} <= shows
    video_shows = {
        world.shows[s].name for s in user.show_ids if world.shows[s].media_type == "video"
    }
    assert export.video
    assert {r["episode_show_name"] for r in export.video} <= video_shows


def test_exports_hold_a_few_exact_duplicates(world: World, export: HistoryExport) -> None:
    encoded = [json.dumps(r, sort_keys=True) for r in export.audio]
    assert 0 < len(encoded) - len(set(encoded)) < len(encoded) * 0.01


def test_same_arguments_same_export(world: World, export: HistoryExport) -> None:
    again = generate_history(world, world.users[0].id, years=2)
    assert again == export
    other = generate_history(world, world.users[1].id, years=2)
    assert other.audio != export.audio


def test_entries_fixes_the_size(world: World) -> None:
    small = generate_history(world, world.users[2].id, years=1, entries=500)
    duplicates = len(small.audio) - len({json.dumps(r) for r in small.audio})
    assert len(small.audio) + len(small.video) - duplicates == 500


def test_zip_holds_the_files_spotify_names(export: HistoryExport) -> None:
    archive = zipfile.ZipFile(io.BytesIO(export.zip_bytes(rows_per_file=10_000)))
    names = archive.namelist()
    audio = [n for n in names if "Audio" in n]
    assert all(n.startswith(f"{FOLDER}/") for n in names)
    assert all(
        re.fullmatch(rf"{FOLDER}/Streaming_History_Audio_\d{{4}}(-\d{{4}})?_\d+\.json", n)
        for n in audio
    )
    assert len(audio) == -(-len(export.audio) // 10_000)
    assert [n for n in names if "Video" in n] == [
        f"{FOLDER}/Streaming_History_Video_{export.video[0]['ts'][:4]}-{export.video[-1]['ts'][:4]}.json"
    ]
    rows = [row for name in audio for row in json.loads(archive.read(name))]
    assert rows == export.audio


def test_write_files(tmp_path: Path, export: HistoryExport) -> None:
    paths = export.write_files(tmp_path / "export")
    assert sum(len(json.loads(p.read_text())) for p in paths) == len(export.audio) + len(
        export.video
    )


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"years": 0}, id="no-years"),
        pytest.param({"years": 1e9}, id="absurd-years"),
        pytest.param({"plays_per_day": -1}, id="negative-rate"),
        pytest.param({"entries": 0}, id="no-entries"),
        pytest.param({"entries": 10**9}, id="absurd-entries"),
    ],
)
def test_impossible_exports_are_refused(world: World, arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"years|entries"):
        generate_history(world, world.users[0].id, **arguments)  # type: ignore[arg-type]


async def test_export_over_http(connect: Connect, world: World) -> None:
    user = world.users[4]
    async with connect() as client:
        answer = await client.get(
            "/_emulator/history-export", params={"user_id": user.id, "entries": 300}
        )
        unknown = await client.get("/_emulator/history-export", params={"user_id": "nobody"})
        nonsense = await client.get(
            "/_emulator/history-export", params={"user_id": user.id, "years": "many"}
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    expected = generate_history(world, user.id, entries=300)
    assert json.loads(archive.read(archive.namelist()[0])) == expected.audio
    assert unknown.status_code == nonsense.status_code == 400
