"""Audio feature sources: order and fall-through, Spotify, ReccoBeats and the CSV dataset."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import respx

from jobs import features as features_module
from jobs.features import (
    CsvFeatureSource,
    FeatureSourceError,
    ReccoBeatsFeatureSource,
    SpotifyFeatureSource,
    build_feature_sources,
    collect_features,
    spotify_id_from_href,
)
from spotify_client import EndpointUnavailable
from spotify_models import AUDIO_FEATURE_NAMES, AudioFeatures

RECCOBEATS = "https://reccobeats.test/v1"
VALUES = {
    "danceability": 0.6,
    "energy": 0.4,
    "key": 5.0,
    "loudness": -9.5,
    "mode": 1.0,
    "speechiness": 0.03,
    "acousticness": 0.8,
    "instrumentalness": 0.0,
    "liveness": 0.15,
    "valence": 0.45,
    "tempo": 102.0,
    "time_signature": 3.0,
}


def sid(n: int) -> str:
    """A well-formed 22-character Spotify id."""
    return f"sp{n:020d}"


class FakeSource:
    """A source that knows some ids and records what it was asked."""

    def __init__(self, name: str, known: dict[str, float], *, up: bool = True) -> None:
        self.name = name
        self._known = known
        self._up = up
        self.asked: list[list[str]] = []

    def available(self) -> bool:
        return self._up

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        self.asked.append(list(track_ids))
        return {t: {"energy": v} for t, v in self._known.items() if t in track_ids or v < 0}


class FakeClient:
    def __init__(self, known: dict[str, AudioFeatures], *, closed: bool = False) -> None:
        self.known = known
        self.closed = closed
        self.calls = 0

    def can(self, capability: str) -> bool:
        assert capability == "audio_features"
        return not self.closed

    async def audio_features(self, ids: Sequence[str]) -> dict[str, AudioFeatures]:
        self.calls += 1
        if self.closed:
            raise EndpointUnavailable("audio_features")
        return {i: self.known[i] for i in ids if i in self.known}


def spotify_features(track_id: str) -> AudioFeatures:
    ints = {"key", "mode", "time_signature"}
    kwargs = {n: int(v) if n in ints else v for n, v in VALUES.items()}
    return AudioFeatures(track_id=track_id, **kwargs)  # type: ignore[arg-type]


def reccobeats_item(spotify_id: str, **changes: object) -> dict[str, object]:
    """One item as ReccoBeats answers it: its own uuid, the Spotify id only in href."""
    item: dict[str, object] = {
        "id": f"uuid-of-{spotify_id}",
        "href": f"https://open.spotify.com/track/{spotify_id}",
        "isrc": "USUG12103683",
    }
    item |= {n: v for n, v in VALUES.items() if n != "time_signature"}
    return item | changes


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class RecordedSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class TestCollectFeatures:
    async def test_each_source_asked_only_for_what_is_still_missing(self) -> None:
        first = FakeSource("spotify", {"a": 1.0})
        second = FakeSource("reccobeats", {"b": 2.0, "a": 9.0})
        third = FakeSource("csv", {"c": 3.0})

        found = await collect_features([first, second, third], ["a", "b", "c", "d", "a"])

        assert found == {
            "a": ({"energy": 1.0}, "spotify"),
            "b": ({"energy": 2.0}, "reccobeats"),
            "c": ({"energy": 3.0}, "csv"),
        }
        assert [first.asked, second.asked, third.asked] == [
            [["a", "b", "c", "d"]],
            [["b", "c", "d"]],
            [["c", "d"]],
        ]

    async def test_unavailable_source_skipped(self) -> None:
        down = FakeSource("spotify", {"a": 1.0}, up=False)
        up = FakeSource("csv", {"a": 2.0})

        found = await collect_features([down, up], ["a"])

        assert found == {"a": ({"energy": 2.0}, "csv")}
        assert down.asked == []

    async def test_stops_asking_once_everything_is_found(self) -> None:
        first = FakeSource("spotify", {"a": 1.0})
        second = FakeSource("csv", {"a": 2.0})

        await collect_features([first, second], ["a"])

        assert second.asked == []

    async def test_ids_nobody_asked_for_are_ignored(self) -> None:
        chatty = FakeSource("csv", {"a": 1.0, "stranger": -1.0})

        assert set(await collect_features([chatty], ["a"])) == {"a"}


class TestSpotifyFeatureSource:
    async def test_features_as_dicts_of_the_twelve(self) -> None:
        source = SpotifyFeatureSource(FakeClient({"t1": spotify_features("t1")}))

        found = await source.fetch(["t1", "t2"])

        assert source.available()
        assert found == {"t1": VALUES}
        assert tuple(found["t1"]) == AUDIO_FEATURE_NAMES

    async def test_closed_endpoint_gives_nothing_and_is_not_available(self) -> None:
        client = FakeClient({"t1": spotify_features("t1")}, closed=True)
        source = SpotifyFeatureSource(client)

        assert await source.fetch(["t1"]) == {}
        assert not source.available()

    async def test_closed_spotify_falls_through_to_the_next_source(self) -> None:
        client = FakeClient({"t1": spotify_features("t1")}, closed=True)
        csv = FakeSource("csv", {"t1": 0.5})

        found = await collect_features([SpotifyFeatureSource(client), csv], ["t1"])

        assert found == {"t1": ({"energy": 0.5}, "csv")}
        assert client.calls == 0


class TestReccoBeats:
    @respx.mock
    async def test_batches_of_forty_mapped_back_through_href(self, http: httpx.AsyncClient) -> None:
        ids = [sid(n) for n in range(85)]
        route = respx.get(f"{RECCOBEATS}/audio-features").mock(
            side_effect=lambda request: httpx.Response(
                200,
                json={"content": [reccobeats_item(i) for i in _ids(request) if i != sid(7)]},
            )
        )
        source = ReccoBeatsFeatureSource(http, RECCOBEATS + "/")

        found = await source.fetch(ids)

        assert [len(_ids(call.request)) for call in route.calls] == [40, 40, 5]
        assert [i for call in route.calls for i in _ids(call.request)] == ids
        assert set(found) == set(ids) - {sid(7)}
        assert found[sid(0)] == VALUES | {"time_signature": 4.0}
        assert source.available()

    @respx.mock
    async def test_incomplete_or_unasked_items_skipped(self, http: httpx.AsyncClient) -> None:
        items = [
            reccobeats_item(sid(1), energy=None),
            reccobeats_item(sid(2), tempo="fast"),
            reccobeats_item(sid(3), href=None),
            reccobeats_item(sid(99)),
            "not an object",
            reccobeats_item(sid(4), href=f"https://open.spotify.com/track/{sid(4)}?si=x"),
        ]
        respx.get(f"{RECCOBEATS}/audio-features").respond(200, json={"content": items})
        source = ReccoBeatsFeatureSource(http, RECCOBEATS)

        found = await source.fetch([sid(n) for n in range(1, 6)])

        assert set(found) == {sid(4)}
        assert source.available()

    @respx.mock
    async def test_ids_that_are_not_spotify_ids_never_sent(self, http: httpx.AsyncClient) -> None:
        route = respx.get(f"{RECCOBEATS}/audio-features").respond(200, json={"content": []})
        source = ReccoBeatsFeatureSource(http, RECCOBEATS)

        await source.fetch(["local:file", sid(1), "x" * 40])

        assert _ids(route.calls.last.request) == [sid(1)]

    @pytest.mark.parametrize(
        "failure",
        [
            pytest.param(httpx.Response(503), id="5xx"),
            pytest.param(httpx.Response(403), id="4xx"),
            pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
            pytest.param(httpx.ConnectError("refused"), id="connection-error"),
            pytest.param(httpx.Response(200, text="<html>oops</html>"), id="not-json"),
            pytest.param(httpx.Response(200, json={"items": []}), id="no-content"),
            pytest.param(httpx.Response(200, json=["content"]), id="not-an-object"),
        ],
    )
    @respx.mock
    async def test_failure_gives_up_quietly_for_the_rest_of_the_run(
        self,
        http: httpx.AsyncClient,
        failure: httpx.Response | Exception,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        route = respx.get(f"{RECCOBEATS}/audio-features").mock(
            side_effect=[httpx.Response(200, json={"content": [reccobeats_item(sid(0))]}), failure]
        )
        source = ReccoBeatsFeatureSource(http, RECCOBEATS, batch_size=1)

        with caplog.at_level(logging.WARNING, logger="jobs.features"):
            found = await source.fetch([sid(0), sid(1), sid(2)])
            again = await source.fetch([sid(3)])

        assert set(found) == {sid(0)}
        assert again == {}
        assert not source.available()
        assert route.call_count == 2
        assert len(caplog.records) == 1

    @respx.mock
    async def test_honours_retry_after_once(self, http: httpx.AsyncClient) -> None:
        route = respx.get(f"{RECCOBEATS}/audio-features").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(200, json={"content": [reccobeats_item(sid(1))]}),
            ]
        )
        sleep = RecordedSleep()
        source = ReccoBeatsFeatureSource(http, RECCOBEATS, sleep=sleep)

        found = await source.fetch([sid(1)])

        assert set(found) == {sid(1)}
        assert sleep.delays == [7.0]
        assert route.call_count == 2

    @pytest.mark.parametrize(
        ("retry_after", "delays"),
        [
            pytest.param("2", [2.0], id="limited-twice"),
            pytest.param("3600", [], id="wait-too-long"),
        ],
    )
    @respx.mock
    async def test_gives_up_when_rate_limited_again_or_for_too_long(
        self, http: httpx.AsyncClient, retry_after: str, delays: list[float]
    ) -> None:
        respx.get(f"{RECCOBEATS}/audio-features").respond(429, headers={"Retry-After": retry_after})
        sleep = RecordedSleep()
        source = ReccoBeatsFeatureSource(http, RECCOBEATS, sleep=sleep, max_retry_after=60)

        assert await source.fetch([sid(1)]) == {}
        assert sleep.delays == delays
        assert not source.available()

    @pytest.mark.parametrize(
        ("retry_after", "delays", "served"),
        [
            pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", [0.0], True, id="date-passed"),
            pytest.param("Fri, 01 Jan 2100 00:00:00 GMT", [], False, id="date-too-far"),
        ],
    )
    @respx.mock
    async def test_retry_after_may_be_an_http_date(
        self, http: httpx.AsyncClient, retry_after: str, delays: list[float], served: bool
    ) -> None:
        respx.get(f"{RECCOBEATS}/audio-features").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": retry_after}),
                httpx.Response(200, json={"content": [reccobeats_item(sid(1))]}),
            ]
        )
        sleep = RecordedSleep()
        source = ReccoBeatsFeatureSource(http, RECCOBEATS, sleep=sleep, max_retry_after=60)

        found = await source.fetch([sid(1)])

        assert sleep.delays == delays
        assert (sid(1) in found) is served

    def test_batch_size_within_what_reccobeats_accepts(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(ValueError, match="between 1 and 40"):
            ReccoBeatsFeatureSource(http, RECCOBEATS, batch_size=100)


def _ids(request: httpx.Request) -> list[str]:
    return request.url.params["ids"].split(",")


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        pytest.param("https://open.spotify.com/track/abc123", "abc123", id="url"),
        pytest.param("https://open.spotify.com/intl-de/track/abc123?si=1", "abc123", id="intl"),
        pytest.param("spotify:track:abc123", "abc123", id="uri"),
        pytest.param("https://open.spotify.com/artist/abc123", None, id="artist"),
        pytest.param(None, None, id="none"),
    ],
)
def test_spotify_id_from_href(href: str | None, expected: str | None) -> None:
    assert spotify_id_from_href(href) == expected


HEADER = (
    ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,"
    "tempo,time_signature,track_genre"
)


def kaggle_row(index: int, track_id: str, energy: str = "0.4", genre: str = "jazz") -> str:
    return (
        f'{index},{track_id},"Nina Simone;Someone, Else",Album,"Song, with comma",52,'
        f"180000,False,0.6,{energy},5,-9.5,1,0.03,0.8,0.0,0.15,0.45,102.0,3,{genre}"
    )


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "dataset.csv"
    rows = [
        HEADER,
        kaggle_row(0, "t1"),
        kaggle_row(1, "t2", energy="0.9"),
        kaggle_row(2, "t1", energy="0.1", genre="soul"),
        kaggle_row(3, "t3", energy="n/a"),
        kaggle_row(4, "t4", energy="nan"),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


class TestCsvFeatureSource:
    async def test_kaggle_layout_first_row_of_an_id_wins(self, dataset: Path) -> None:
        source = CsvFeatureSource(dataset)

        found = await source.fetch(["t1", "t2", "missing"])

        assert found == {"t1": VALUES, "t2": VALUES | {"energy": 0.9}}
        assert source.available()

    async def test_rows_with_unparsable_numbers_skipped(self, dataset: Path) -> None:
        assert await CsvFeatureSource(dataset).fetch(["t3", "t4"]) == {}

    async def test_indexed_once_not_rescanned(self, dataset: Path) -> None:
        source = CsvFeatureSource(dataset)
        assert await source.load() == 2

        dataset.unlink()
        results = [await source.fetch(["t2"]) for _ in range(50)]

        assert all(set(found) == {"t2"} for found in results)

    async def test_concurrent_first_lookups_read_the_file_once(
        self, dataset: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        reads: list[Path] = []
        real_read = features_module.read_feature_csv

        def counting_read(path: Path) -> dict[str, object]:
            reads.append(path)
            return real_read(path)  # type: ignore[return-value]

        monkeypatch.setattr(features_module, "read_feature_csv", counting_read)
        source = CsvFeatureSource(dataset)

        results = await asyncio.gather(*(source.fetch(["t1"]) for _ in range(8)))

        assert reads == [dataset]
        assert all(set(found) == {"t1"} for found in results)

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            pytest.param(None, "cannot read", id="missing-file"),
            pytest.param(
                "track_id,danceability,energy\nt1,0.5,0.5\n",
                "lacks column(s) key, loudness",
                id="missing-columns",
            ),
            pytest.param("", "lacks column(s) track_id", id="empty-file"),
        ],
    )
    async def test_broken_file_is_a_clear_error(
        self, tmp_path: Path, content: str | None, message: str
    ) -> None:
        path = tmp_path / "features.csv"
        if content is not None:
            path.write_text(content, encoding="utf-8")

        with pytest.raises(FeatureSourceError, match=re.escape(message)):
            await CsvFeatureSource(path).fetch(["t1"])


class TestBuildFeatureSources:
    @pytest.mark.parametrize(
        ("names", "csv_path", "expected"),
        [
            pytest.param([], Path("f.csv"), ["spotify", "reccobeats", "csv"], id="default-all"),
            pytest.param([], None, ["spotify", "reccobeats"], id="default-without-csv"),
            pytest.param(["csv", "spotify"], Path("f.csv"), ["csv", "spotify"], id="as-named"),
            pytest.param(["reccobeats", "reccobeats"], None, ["reccobeats"], id="deduplicated"),
        ],
    )
    def test_sources_in_order(
        self,
        http: httpx.AsyncClient,
        names: list[str],
        csv_path: Path | None,
        expected: list[str],
    ) -> None:
        sources = build_feature_sources(
            names, client=FakeClient({}), http=http, reccobeats_url=RECCOBEATS, csv_path=csv_path
        )

        assert [source.name for source in sources] == expected

    @pytest.mark.parametrize(
        ("names", "message"),
        [
            pytest.param(["spotify", "lastfm"], "unknown source 'lastfm'", id="unknown"),
            pytest.param(["csv"], "'csv' needs a CSV path", id="csv-without-path"),
        ],
    )
    def test_bad_names_are_value_errors(
        self, http: httpx.AsyncClient, names: list[str], message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            build_feature_sources(
                names, client=FakeClient({}), http=http, reccobeats_url=RECCOBEATS, csv_path=None
            )

    def test_without_a_spotify_client_default_skips_spotify(self, http: httpx.AsyncClient) -> None:
        sources = build_feature_sources(
            [], client=None, http=http, reccobeats_url=RECCOBEATS, csv_path=None
        )

        assert [source.name for source in sources] == ["reccobeats"]
