"""The contract of `spotify_models`: what a parser accepts, recognises, skips and refuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spotify_models import (
    AUDIO_FEATURE_NAMES,
    Episode,
    EpisodePlay,
    LocalTrack,
    NotATrack,
    ParseError,
    Play,
    Skipped,
    Track,
    feature_violation,
    parse_album,
    parse_artist,
    parse_audio_features,
    parse_each,
    parse_play,
    parse_playable,
    parse_saved_track,
    parse_token_grant,
    parse_track,
    release_date,
)

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def track_json(track_id: str | None = "t1", **changes: Any) -> dict[str, Any]:
    track = {
        "type": "track",
        "id": track_id,
        "name": f"Track {track_id}",
        "uri": f"spotify:track:{track_id}",
        "duration_ms": 200_000,
        "is_local": False,
        "artists": [{"id": "a1", "name": "Artist"}],
        "album": {"id": "al1", "name": "Album", "release_date": "2020-05-01"},
    }
    track.update(changes)
    return track


LOCAL_FILE = {
    "type": "track",
    "id": None,
    "name": "demo take 3",
    "uri": "spotify:local:Me:Demos:demo+take+3:187",
    "duration_ms": 187_000,
    "is_local": True,
    "artists": [{"id": None, "name": "Me"}],
    "album": {"id": None, "name": "Demos"},
}
EPISODE = {
    "type": "episode",
    "id": "ep1",
    "name": "Episode one",
    "uri": "spotify:episode:ep1",
    "duration_ms": 1_800_000,
    "show": {"id": "show1", "name": "The Show"},
}


def features_json(**changes: Any) -> dict[str, Any]:
    features: dict[str, Any] = {name: 0.5 for name in AUDIO_FEATURE_NAMES}
    features.update(id="t1", key=5, mode=1, loudness=-7.5, tempo=120.0, time_signature=4)
    features.update(changes)
    return features


def test_a_local_file_is_recognised_never_a_track() -> None:
    assert isinstance(parse_playable(LOCAL_FILE), LocalTrack)
    with pytest.raises(NotATrack) as raised:
        parse_track(LOCAL_FILE)
    assert raised.value.reason == "local file"


def test_a_local_file_with_a_string_id_is_still_local() -> None:
    with pytest.raises(NotATrack):
        parse_track(track_json("abc", is_local=True))


def test_an_episode_is_kept_as_an_episode() -> None:
    episode = parse_playable(EPISODE)
    assert episode == Episode(
        id="ep1",
        name="Episode one",
        uri="spotify:episode:ep1",
        duration_ms=1_800_000,
        show_id="show1",
        show_name="The Show",
    )
    with pytest.raises(NotATrack):
        parse_track(EPISODE)


def test_a_played_episode_is_an_episode_play_not_a_track_without_artists() -> None:
    play = parse_play({"track": EPISODE, "played_at": "2026-04-30T10:00:00Z"}, NOW)
    assert isinstance(play, EpisodePlay)
    assert play.episode.show_name == "The Show"


def test_a_played_local_file_is_not_a_play() -> None:
    with pytest.raises(NotATrack):
        parse_play({"track": LOCAL_FILE, "played_at": "2026-04-30T10:00:00Z"}, NOW)


def test_a_saved_local_file_is_not_a_saved_track() -> None:
    with pytest.raises(NotATrack):
        parse_saved_track({"track": LOCAL_FILE, "added_at": "2026-04-30T10:00:00Z"}, NOW)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"id": None}, id="null-id"),
        pytest.param({"name": ""}, id="empty-name"),
        pytest.param({"name": "   "}, id="blank-name"),
        pytest.param({"uri": None}, id="no-uri"),
        pytest.param({"uri": "spotify:track:" + "x" * 200}, id="uri-too-long"),
        pytest.param({"id": "a,b"}, id="comma-in-id"),
        pytest.param({"duration_ms": -5}, id="negative-duration"),
        pytest.param({"duration_ms": 0}, id="zero-duration"),
        pytest.param({"duration_ms": True}, id="boolean-duration"),
        pytest.param({"popularity": 101}, id="popularity-over-100"),
        pytest.param({"type": "audiobook"}, id="unknown-type"),
        pytest.param({"artists": [{"id": None, "name": "X"}]}, id="artist-without-id"),
        pytest.param({"album": {"id": "al1"}}, id="album-without-name"),
    ],
)
def test_a_track_out_of_contract_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        parse_track(track_json(**changes))


def test_absent_and_null_optional_fields_are_none() -> None:
    bare = {"id": "t1", "name": "T", "uri": "spotify:track:t1", "popularity": None}
    track = parse_track(bare)
    assert (track.duration_ms, track.popularity, track.album, track.artists) == (
        None,
        None,
        None,
        (),
    )


def test_names_are_made_storable() -> None:
    track = parse_track(track_json(name="a\x00b" + "c" * 600))
    assert "\x00" not in track.name
    assert len(track.name) == 512


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("danceability", 2.1e38, id="danceability-huge"),
        pytest.param("energy", -0.1, id="energy-negative"),
        pytest.param("mode", -85359746, id="mode-out-of-range"),
        pytest.param("mode", 0.5, id="mode-not-integer"),
        pytest.param("key", 12, id="key-12"),
        pytest.param("key", -2, id="key-minus-2"),
        pytest.param("loudness", -61.0, id="loudness-too-quiet"),
        pytest.param("loudness", 7.0, id="loudness-too-loud"),
        pytest.param("tempo", 301.0, id="tempo-too-fast"),
        pytest.param("time_signature", 2, id="time-signature-2"),
        pytest.param("time_signature", 8, id="time-signature-8"),
        pytest.param("valence", float("nan"), id="valence-nan"),
        pytest.param("liveness", None, id="liveness-null"),
        pytest.param("tempo", 10**400, id="tempo-enormous-int"),
    ],
)
def test_features_out_of_range_are_refused(name: str, value: Any) -> None:
    raw = features_json(**{name: value})
    with pytest.raises(ParseError):
        parse_audio_features(raw)
    assert feature_violation(raw) is not None


def test_features_at_their_bounds_are_kept() -> None:
    raw = features_json(
        danceability=0, energy=1, key=-1, mode=0, loudness=-60, tempo=300, time_signature=7
    )
    features = parse_audio_features(raw)
    assert (features.key, features.time_signature, features.loudness) == (-1, 7, -60.0)
    assert feature_violation(raw) is None


@pytest.mark.parametrize(
    "played_at",
    [
        pytest.param("1890-01-01T00:00:00Z", id="1890"),
        pytest.param("2999-01-01T00:00:00Z", id="far-future"),
        pytest.param("9999-12-31T23:59:59-05:00", id="overflowing"),
        pytest.param("yesterday", id="not-a-timestamp"),
        pytest.param(1714567890, id="a-number"),
    ],
)
def test_implausible_played_at_is_refused(played_at: Any) -> None:
    with pytest.raises(ParseError):
        parse_play({"track": track_json(), "played_at": played_at}, NOW)


def test_a_plausible_play_is_kept() -> None:
    play = parse_play({"track": track_json(), "played_at": "2026-05-01T11:59:00+02:00"}, NOW)
    assert isinstance(play, Play)
    assert play.played_at == dt.datetime(2026, 5, 1, 9, 59, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param("2020", "2020", id="year"),
        pytest.param("2020-05", "2020-05", id="month"),
        pytest.param("2020-05-01", "2020-05-01", id="day"),
        pytest.param("0000", None, id="spotify-unknown"),
        pytest.param("2020-13", None, id="month-13"),
        pytest.param("2020-02-30", None, id="february-30"),
        pytest.param("Lorem ipsum dolor", None, id="lorem-ipsum"),
        pytest.param("3020-01-01", None, id="far-future"),
        pytest.param(2020, None, id="a-number"),
    ],
)
def test_release_dates(value: Any, kept: str | None) -> None:
    assert release_date(value) == kept
    assert parse_album({"id": "al1", "name": "A", "release_date": value}).release_date == kept


def test_artist_genres_are_strings_and_popularity_is_bounded() -> None:
    artist = parse_artist({"id": "a1", "name": "A", "genres": ["folk", 3, None], "popularity": 7})
    assert (artist.genres, artist.popularity) == (("folk",), 7)
    with pytest.raises(ParseError):
        parse_artist({"id": "a1", "name": "A", "popularity": -1})


@pytest.mark.parametrize("expires_in", [-5, 0, 10**9, "3600", None])
def test_an_absurd_token_lifetime_counts_as_an_hour(expires_in: Any) -> None:
    grant = parse_token_grant({"access_token": "x", "expires_in": expires_in})
    assert grant.expires_in == 3600


def test_parse_each_skips_and_counts_instead_of_failing_the_page() -> None:
    skipped = Skipped()
    raw = [track_json("t1"), LOCAL_FILE, track_json(None), EPISODE, "junk", track_json("t2")]
    tracks = parse_each(raw, parse_track, "/me/top/tracks", skipped)
    assert [t.id for t in tracks] == ["t1", "t2"]
    assert all(isinstance(t, Track) for t in tracks)
    assert skipped.total == 4
    assert skipped.as_dict() == {
        "/me/top/tracks": {
            "episode": 1,
            "field 'id' is missing or not a string": 1,
            "local file": 1,
            "track is not a JSON object": 1,
        }
    }


def test_skipped_tallies_merge() -> None:
    first, second = Skipped(), Skipped()
    first.add("/me/tracks", "local file", 2)
    second.add("/me/tracks", "local file")
    second.add("/me/top/tracks", "episode")
    first.merge(second)
    assert first.as_dict() == {
        "/me/top/tracks": {"episode": 1},
        "/me/tracks": {"local file": 3},
    }
