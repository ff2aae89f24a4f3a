"""Artist search and profiles against the emulated Spotify, both kinds of app, both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Secret

from db.database import Database
from db.models import Artist, ArtistName, Play, Track, TrackCredit, User, utcnow
from jobs.clustering import CLUSTER_FEATURES
from spotify_emulator import Faults
from spotify_emulator.model import Artist as WorldArtist
from tests.factories import make_snapshot, make_track
from tests.web.conftest import WORLD, Emulated
from web.artists import parse_query, parse_spotify_id

Make = Callable[..., Awaitable[Emulated]]
MODES = [pytest.param("development", id="dev-mode"), pytest.param("extended", id="extended")]


def _busy_artist() -> WorldArtist:
    """An artist with more than one album, so paging and ordering show."""
    return next(a for a in WORLD.artists.values() if len(a.album_ids) >= 2)


def _own_tracks(artist: WorldArtist) -> set[str]:
    return {t for album in artist.album_ids for t in WORLD.albums[album].track_ids}


@pytest.mark.parametrize("mode", MODES)
async def test_search_finds_the_artist_ten_at_most(emulated: Make, mode: str) -> None:
    env = await emulated(mode)
    artist = _busy_artist()
    response = await env.api.get("/artists/search", params={"q": artist.name})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["artists"][0]["id"] == artist.id
    assert body["artists"][0]["profile"].endswith(f"/artists/{artist.id}/profile")
    assert len(body["artists"]) <= 10
    # Extended apps still get genres; development-mode apps lost them.
    genres = body["artists"][0]["genres"]
    assert genres == (artist.genres if mode == "extended" else None)
    sent = [r for r in env.server.requests if r.path == "/v1/search"]
    assert all("limit=10" in r.query for r in sent)


async def test_search_pages_with_offset(emulated: Make) -> None:
    env = await emulated("development")
    first = (await env.api.get("/artists/search", params={"q": "genre:dance", "limit": "5"})).json()
    second = (
        await env.api.get(
            "/artists/search", params={"q": "genre:dance", "limit": "5", "offset": "5"}
        )
    ).json()
    assert first["next_offset"] == 5
    assert len(first["artists"]) == len(second["artists"]) == 5
    assert not {a["id"] for a in first["artists"]} & {a["id"] for a in second["artists"]}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-query"),
        pytest.param({"q": "   "}, id="blank-query"),
        pytest.param({"q": "x" * 201}, id="query-too-long"),
        pytest.param({"q": "x", "limit": "11"}, id="limit-over-spotifys-cap"),
        pytest.param({"q": "x", "limit": "0"}, id="limit-zero"),
        pytest.param({"q": "x", "offset": "1001"}, id="offset-too-far"),
    ],
)
async def test_bad_search_is_400_before_asking_spotify(
    emulated: Make, params: dict[str, str]
) -> None:
    env = await emulated("development")
    response = await env.api.get("/artists/search", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert env.spotify_paths() == []


def _expected_profile(track_ids: set[str]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "mean": statistics.fmean(WORLD.features[t][name] for t in track_ids),
            "std": statistics.pstdev(WORLD.features[t][name] for t in track_ids),
        }
        for name in CLUSTER_FEATURES
    }


@pytest.mark.parametrize("mode", MODES)
async def test_profile_has_albums_tracks_and_the_feature_profile(emulated: Make, mode: str) -> None:
    env = await emulated(mode)
    artist = _busy_artist()
    response = await env.api.get(f"/artists/{artist.id}/profile")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["artist"]["id"] == artist.id
    assert body["artist"]["name"] == artist.name
    assert body["artist"]["fetched_at"]
    albums = body["albums"]
    assert {a["id"] for a in albums} == set(artist.album_ids)
    dates = [a["release_date"] for a in albums]
    assert dates == sorted(dates, reverse=True)
    own = _own_tracks(artist)
    assert {t["id"] for t in body["tracks"]} == own
    features = body["features"]
    assert features["tracks"] == features["tracks_with_features"] == len(own)
    expected_source = {"extended": {"spotify"}, "development": {"reccobeats", "csv"}}[mode]
    assert set(features["sources"]) <= expected_source
    for name, spread in _expected_profile(own).items():
        assert features["profile"][name]["mean"] == pytest.approx(spread["mean"], abs=1e-3)
        assert features["profile"][name]["std"] == pytest.approx(spread["std"], abs=1e-3)
    assert "listening" not in body


async def test_profile_is_fetched_once_then_served_from_the_catalogue(emulated: Make) -> None:
    env = await emulated("development")
    artist = _busy_artist()
    first = await env.api.get(f"/artists/{artist.id}/profile")
    asked = env.spotify_paths()
    assert f"/v1/artists/{artist.id}" in asked
    assert f"/v1/artists/{artist.id}/albums" in asked
    env.server.clear_requests()
    again = await env.api.get(f"/artists/{artist.id}/profile")
    assert env.spotify_paths() == []
    assert again.json() == first.json()


async def test_requests_at_once_share_one_fetch(emulated: Make) -> None:
    env = await emulated("development", Faults(latency=0.05))
    artist = _busy_artist()
    path = f"/artists/{artist.id}/profile"
    answers = await asyncio.gather(*(env.api.get(path) for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert env.spotify_paths().count(f"/v1/artists/{artist.id}") == 1
    assert env.spotify_paths().count(f"/v1/artists/{artist.id}/albums") == 1


def _age_profile(database: Database, artist_id: str, days: int) -> None:
    when = utcnow() - dt.timedelta(days=days)
    database.run_sync(
        lambda: Artist.update(profile_fetched_at=when).where(Artist.id == artist_id).execute()
    )


async def test_profile_is_refreshed_after_a_week(emulated: Make, database: Database) -> None:
    env = await emulated("development")
    artist = _busy_artist()
    await env.api.get(f"/artists/{artist.id}/profile")
    _age_profile(database, artist.id, 6)
    env.server.clear_requests()
    await env.api.get(f"/artists/{artist.id}/profile")
    assert env.spotify_paths() == []
    _age_profile(database, artist.id, 8)
    body = (await env.api.get(f"/artists/{artist.id}/profile")).json()
    assert f"/v1/artists/{artist.id}" in env.spotify_paths()
    fetched = dt.datetime.fromisoformat(body["artist"]["fetched_at"])
    assert dt.datetime.now(dt.UTC) - fetched < dt.timedelta(minutes=5)


async def test_a_stale_profile_is_served_when_spotify_cannot_refresh_it(
    emulated: Make, database: Database
) -> None:
    env = await emulated("development")
    artist = _busy_artist()
    await env.api.get(f"/artists/{artist.id}/profile")
    _age_profile(database, artist.id, 8)
    env.server.set_faults(Faults(quota=0))
    response = await env.api.get(f"/artists/{artist.id}/profile")
    assert response.status_code == 200
    assert {t["id"] for t in response.json()["tracks"]} == _own_tracks(artist)


async def test_a_first_fetch_spotify_refuses_is_503(emulated: Make) -> None:
    env = await emulated("development", Faults(quota=0))
    response = await env.api.get(f"/artists/{_busy_artist().id}/profile")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/artists/0000000000000000000000/profile", 404, id="unknown-artist"),
        pytest.param("/artists/not-an-id/profile", 400, id="malformed-id"),
        pytest.param("/artists/{artist}/profile?username=nobody", 404, id="unknown-user"),
        pytest.param("/artists/{artist}/profile?username=-bad", 400, id="malformed-username"),
    ],
)
async def test_bad_profile_requests_are_problems(emulated: Make, path: str, status: int) -> None:
    env = await emulated("development")
    response = await env.api.get(path.format(artist=_busy_artist().id))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def _listen(database: Database, username: str, artist: WorldArtist) -> tuple[str, int]:
    """Plays of the artist in every form; answers the most played track and its duration."""
    own = sorted(_own_tracks(artist))
    favourite, other = own[0], own[1]

    def write() -> None:
        user = User.get(User.username == username)
        at = dt.datetime(2026, 11, 1, 12)
        for hour in (0, 1):
            Play.create(user=user, track=favourite, played_at=at + dt.timedelta(hours=hour))
        Play.create(user=user, track=other, played_at=at, ms_played=90_000, origin=Play.IMPORTED)
        Play.create(
            user=user,
            track=other,
            played_at=at + dt.timedelta(hours=5),
            ms_played=10_000,
            short=True,
            origin=Play.IMPORTED,
        )
        # Known only from an export, by an artist name that was linked to the artist.
        Track.create(id="imported0000000000000a", name="Imported", uri="spotify:track:i")
        name = ArtistName.create(name=artist.name, artist=artist.id)
        TrackCredit.create(track="imported0000000000000a", artist_name=name)
        Play.create(
            user=user,
            track="imported0000000000000a",
            played_at=at + dt.timedelta(days=3),
            ms_played=120_000,
            origin=Play.IMPORTED,
        )
        make_track("someone-else", ["stranger"], "elsewhere")
        Play.create(user=user, track="someone-else", played_at=at - dt.timedelta(days=1))
        make_snapshot(
            user, dt.date(2026, 11, 20), top_artists={"short_term": ["stranger", artist.id]}
        )

    database.run_sync(write)
    return favourite, WORLD.tracks[favourite].duration_ms


@pytest.mark.parametrize("mode", MODES)
async def test_profile_says_how_much_the_user_listens(
    emulated: Make, database: Database, mode: str
) -> None:
    env = await emulated(mode)
    artist = _busy_artist()
    username = WORLD.users[0].id
    await env.api.get(f"/artists/{artist.id}/profile")
    favourite, duration = _listen(database, username, artist)
    response = await env.api.get(f"/artists/{artist.id}/profile", params={"username": username})
    listening = response.json()["listening"]
    # Two polled plays (their track's length), one imported 90 s, one imported by name
    # 120 s; the 10 s play is short and left out, as statistics leave it out.
    assert listening["plays"] == 4
    assert listening["minutes"] == round((2 * duration + 90_000 + 120_000) / 60_000, 1)
    assert listening["share_of_plays"] == 0.8
    assert listening["first_played"] == "2026-11-01T12:00:00Z"
    assert listening["last_played"] == "2026-11-04T12:00:00Z"
    assert listening["top_tracks"][0] == {
        "plays": 2,
        "track": listening["top_tracks"][0]["track"] | {"id": favourite},
    }
    assert listening["top_artist_rank"] == {"short_term": 2}


async def test_artist_endpoints_need_an_api_key_when_keys_are_set(emulated: Make) -> None:
    env = await emulated("development", api_keys=(Secret("k1"),))
    artist = _busy_artist()
    assert (await env.api.get("/artists/search", params={"q": "a"})).status_code == 401
    assert (await env.api.get(f"/artists/{artist.id}/profile")).status_code == 401
    keyed = await env.api.get(
        f"/artists/{artist.id}/profile", headers={"Authorization": "Bearer k1"}
    )
    assert keyed.status_code == 200


@given(st.text(max_size=300))
def test_any_query_is_either_refused_or_kept_as_clean_text(raw: str) -> None:
    clean = raw.strip()
    if 1 <= len(clean) <= 200 and "\x00" not in clean:
        assert parse_query(raw) == clean
    else:
        with pytest.raises(ValueError, match="must"):
            parse_query(raw)


@given(st.text(max_size=40) | st.from_regex(r"[0-9A-Za-z]{22}", fullmatch=True))
def test_only_22_letters_and_digits_make_an_id(raw: str) -> None:
    if raw.isascii() and raw.isalnum() and len(raw) == 22:
        assert parse_spotify_id(raw) == raw
    else:
        with pytest.raises(ValueError, match="22 letters and digits"):
            parse_spotify_id(raw)


async def test_a_client_holding_the_profile_gets_304_until_it_changes(
    emulated: Make, database: Database
) -> None:
    env = await emulated("development")
    artist = _busy_artist()
    username = WORLD.users[0].id
    path = f"/artists/{artist.id}/profile"
    first = await env.api.get(path, params={"username": username})
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"

    same = await env.api.get(path, params={"username": username}, headers={"If-None-Match": etag})
    _listen(database, username, artist)
    changed = await env.api.get(
        path, params={"username": username}, headers={"If-None-Match": etag}
    )

    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["listening"]["plays"] == 4
