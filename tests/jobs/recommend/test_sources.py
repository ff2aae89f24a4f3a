"""Candidate sources: what each offers, and that a failing one never sinks the snapshot."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from db import catalogue
from db.database import Database
from jobs.clustering import CLUSTER_FEATURES
from jobs.recommend.artists import ArtistsSource
from jobs.recommend.collaborators import CollaboratorsSource
from jobs.recommend.csv_pool import CsvCandidateSource, main_genres
from jobs.recommend.gather import gather_candidates
from jobs.recommend.protocol import Candidate, CandidateSource, Taste
from jobs.recommend.reccobeats import ReccoBeatsSource
from spotify_client import QuotaExceeded
from tests.factories import make_track
from tests.jobs.recommend.test_ranking import CALM, LOUD, clustering_of, user_tracks

RB = "http://reccobeats.test/v1"


def sid(n: int) -> str:
    return f"{n:022d}"


def rb_item(track: int, *artists: int) -> dict[str, Any]:
    return {
        "id": f"uuid-{track}",
        "trackTitle": f"Song {track}",
        "artists": [
            {
                "id": f"rb-{a}",
                "name": f"Artist {a}",
                "href": f"https://open.spotify.com/artist/{sid(a)}",
            }
            for a in artists
        ],
        "durationMs": 200_000,
        "href": f"https://open.spotify.com/track/{sid(track)}",
        "popularity": 40,
    }


def taste(**changes: Any) -> Taste:
    values: dict[str, Any] = {
        "user_id": 1,
        "own_track_ids": frozenset({sid(1)}),
        "affinity": {"known": 1.0},
        "artist_names": {"known": "Known Artist"},
        "seed_tracks": ((sid(1), "My Song"),),
    }
    return Taste(**(values | changes))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@respx.mock
async def test_reccobeats_offers_its_tracks_by_spotify_id_and_stores_them(
    database: Database, http: httpx.AsyncClient
) -> None:
    route = respx.get(f"{RB}/track/recommendation").respond(
        json={"content": [rb_item(1, 10), rb_item(2, 20, 21), {"href": "nonsense"}]}
    )
    source = ReccoBeatsSource(database, http, RB)

    found = await source.candidates(taste(wanted=150))

    assert route.calls.last.request.url.params["seeds"] == sid(1)
    assert route.calls.last.request.url.params["size"] == "100"
    # The user's own track is never offered back.
    assert [(c.track_id, c.artist_ids, c.origin) for c in found] == [
        (sid(2), (sid(20), sid(21)), "reccobeats")
    ]
    assert found[0].seed_name == "'My Song'"
    stored = database.run_sync(catalogue.track_summaries, [sid(2)])
    assert stored[0]["artist_names"] == ["Artist 20", "Artist 21"]


@respx.mock
async def test_reccobeats_waits_out_a_short_rate_limit_once(
    database: Database, http: httpx.AsyncClient
) -> None:
    respx.get(f"{RB}/track/recommendation").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(200, json={"content": [rb_item(2, 20)]}),
        ]
    )
    sleeps = Sleeps()

    found = await ReccoBeatsSource(database, http, RB, sleep=sleeps).candidates(taste())

    assert sleeps.delays == [3.0]
    assert [c.track_id for c in found] == [sid(2)]


class Fixed:
    def __init__(self, name: str, answer: list[Candidate] | Exception) -> None:
        self.name = name
        self._answer = answer

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


@respx.mock
async def test_a_failing_source_is_logged_and_counted_and_the_others_still_count(
    database: Database, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    respx.get(f"{RB}/track/recommendation").respond(503)
    good = Candidate("t", ("a",), ("A",), "artists", "A")
    sources: list[CandidateSource] = [
        ReccoBeatsSource(database, http, RB),
        Fixed("co-listeners", httpx.ConnectError("refused")),
        Fixed("artists", [good]),
    ]

    gathered = await gather_candidates(sources, taste())

    assert gathered.candidates == [good]
    assert gathered.offered == {"artists": 1}
    assert sorted(gathered.failed) == ["co-listeners", "reccobeats"]
    assert "HTTP 503" in gathered.failed["reccobeats"]
    assert "recommendation source reccobeats failed" in caplog.text


async def test_a_spent_quota_is_not_softened() -> None:
    with pytest.raises(QuotaExceeded):
        await gather_candidates([Fixed("search", QuotaExceeded("spent"))], taste())


def write_csv(
    path: Path,
    rows: list[tuple[str, str, str, dict[str, float]]],
    popularity: dict[str, int] | None = None,
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "artists", "track_genre", "popularity", *CLUSTER_FEATURES])
        for track_id, artists, genre, features in rows:
            plays = (popularity or {}).get(track_id, 50)
            writer.writerow(
                [track_id, artists, genre, plays, *(features[n] for n in CLUSTER_FEATURES)]
            )
    return path


async def test_csv_offers_the_nearest_tracks_by_artists_the_user_never_played(
    tmp_path: Path,
) -> None:
    path = write_csv(
        tmp_path / "tracks.csv",
        [
            ("calm-known", "Known Artist", "folk", CALM),
            ("calm-new", "Stranger;Guest", "folk", CALM | {"tempo": 84.0}),
            ("loud-new", "Shouter", "edm", LOUD),
            ("far-new", "Outlier", "noise", CALM | {"tempo": 400.0, "energy": 1.0}),
        ],
    )
    tracks = user_tracks()
    source = CsvCandidateSource(path)

    found = await source.candidates(
        taste(clustering=clustering_of(tracks), user_features=tracks, wanted=1)
    )

    offered = {c.track_id: c for c in found}
    assert set(offered) == {"calm-new", "loud-new"}
    assert offered["calm-new"].artist_names == ("Stranger", "Guest")
    assert offered["calm-new"].seed_name == "folk"
    assert offered["calm-new"].features is not None
    index = await source.index()
    assert main_genres(index, ["calm-known", "calm-new", "loud-new"]) == ["folk", "edm"]


async def test_csv_prefers_popular_tracks_that_fit_a_mix_to_the_nearest_ones(
    tmp_path: Path,
) -> None:
    calm = [(f"calm-{i}", f"Quiet {i}", "folk", CALM | {"tempo": 85.0 + i / 10}) for i in range(4)]
    far = CALM | {"tempo": 400.0, "energy": 1.0}
    path = write_csv(
        tmp_path / "tracks.csv",
        [*calm, ("far-hit", "Outlier", "noise", far), ("loud", "Shouter", "edm", LOUD)],
        # The calm mix's centre is nearest calm-3 (tempo 85.5); the farthest calm track is the
        # most popular, and one far off is more popular still.
        popularity={"calm-0": 90, "calm-1": 30, "calm-2": 20, "calm-3": 10, "far-hit": 100},
    )
    tracks = user_tracks()

    found = await CsvCandidateSource(path).candidates(
        taste(clustering=clustering_of(tracks), user_features=tracks, wanted=1)
    )

    # Three offered for one wanted, shared by two mixes: one calm row and one loud.
    assert {c.track_id for c in found} == {"calm-0", "loud"}


async def test_csv_offers_nothing_without_clusters(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tracks.csv", [("calm-new", "Stranger", "folk", CALM)])

    assert await CsvCandidateSource(path).candidates(taste()) == []


async def test_collaborators_offers_the_guests_catalogue(database: Database) -> None:
    def write() -> None:
        make_track("duet", ["known", "guest"], "al1")
        make_track("guest-solo", ["guest"], "al2")
        make_track("stranger-solo", ["stranger"], "al3")
        catalogue.mark_catalogue_fetched(["known", "guest"])

    database.run_sync(write)
    # Every catalogue is fresh, so no Spotify call is made.
    source = CollaboratorsSource(database, spotify=None)  # type: ignore[arg-type]

    found = await source.candidates(taste(own_track_ids=frozenset({"duet"})))

    assert [(c.track_id, c.seed_name) for c in found] == [
        ("guest-solo", "Artist guest is credited on Known Artist's records")
    ]


async def test_artists_offers_unplayed_tracks_with_their_share_of_what_is_left(
    database: Database,
) -> None:
    def write() -> None:
        for n in range(4):
            make_track(f"big-{n}", ["big"], "al1")
        make_track("small-0", ["small"], "al2")
        make_track("small-1", ["small"], "al2")
        make_track("together", ["small", "big"], "al3")
        make_track("guest-spot", ["stranger", "big"], "al4")
        catalogue.mark_catalogue_fetched(["big", "small"])

    database.run_sync(write)
    source = ArtistsSource(database, spotify=None)  # type: ignore[arg-type]
    liked = taste(
        own_track_ids=frozenset({"small-0"}),
        affinity={"big": 1.0, "small": 0.5},
        artist_names={"big": "Big", "small": "Small"},
    )

    found = {c.track_id: c.artist_share for c in await source.candidates(liked)}

    # A track is its first-credited artist's record: "together" is small's, so small has two
    # left and big four; big's guest spot on a stranger's record is no share of either.
    assert found == {
        **{f"big-{n}": 0.25 for n in range(4)},
        "together": 0.5,
        "small-1": 0.5,
        "guest-spot": None,
    }
