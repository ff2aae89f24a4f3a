"""Property tests of the contract (issue 11): whatever Spotify sends, a parser either keeps an
object that is inside the contract or raises ParseError, and never anything else."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spotify_models as sm
from tests.spotify_strategies import (
    NOW,
    albums,
    artists,
    audio_features,
    encodes_as_utf8,
    episodes,
    features_in_contract,
    in_range,
    local_files,
    mutated,
    plays,
    saved,
    storable_id,
    storable_name,
    tracks,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAYABLE = st.one_of(tracks(), local_files(), episodes())


def _text(value: Any, length: int) -> bool:
    return value is None or (
        isinstance(value, str)
        and "\x00" not in value
        and len(value) <= length
        and encodes_as_utf8(value)
    )


def assert_artist_ref(ref: sm.ArtistRef) -> None:
    assert storable_id(ref.id)
    assert storable_name(ref.name)


def assert_album(album: sm.Album) -> None:
    assert storable_id(album.id)
    assert storable_name(album.name)
    assert album.release_date is None or sm.release_date(album.release_date) is not None
    assert _text(album.image_url, 10_000)
    for ref in album.artists:
        assert_artist_ref(ref)


def assert_track(track: sm.Track) -> None:
    assert storable_id(track.id)
    assert storable_name(track.name)
    assert isinstance(track.uri, str)
    assert 0 < len(track.uri) <= sm.MAX_URI
    assert _text(track.uri, sm.MAX_URI)
    assert not track.uri.startswith(("spotify:local:", "spotify:episode:"))
    assert track.duration_ms is None or in_range(track.duration_ms, sm.DURATION_MS_RANGE)
    assert track.popularity is None or in_range(track.popularity, sm.POPULARITY_RANGE)
    assert _text(track.isrc, sm.MAX_ISRC)
    for ref in track.artists:
        assert_artist_ref(ref)
    if track.album is not None:
        assert_album(track.album)


def assert_episode(episode: sm.Episode) -> None:
    assert storable_id(episode.id)
    assert storable_name(episode.name)
    assert _text(episode.uri, sm.MAX_URI)
    assert episode.duration_ms is None or in_range(episode.duration_ms, sm.DURATION_MS_RANGE)
    assert episode.show_name is None or storable_name(episode.show_name)


def assert_instant(moment: Any) -> None:
    assert sm.PLAUSIBLE_SINCE <= moment <= NOW + sm.PLAUSIBLE_AHEAD
    assert moment.tzinfo is not None


@PROPERTY
@given(mutated(PLAYABLE))
def test_a_track_is_in_contract_or_refused(raw: dict[str, Any]) -> None:
    try:
        track = sm.parse_track(raw)
    except sm.ParseError:
        return
    assert_track(track)


@PROPERTY
@given(mutated(artists()))
def test_an_artist_is_in_contract_or_refused(raw: dict[str, Any]) -> None:
    try:
        artist = sm.parse_artist(raw)
    except sm.ParseError:
        return
    assert_artist_ref(sm.ArtistRef(artist.id, artist.name))
    assert artist.popularity is None or in_range(artist.popularity, sm.POPULARITY_RANGE)
    assert artist.genres is None or all(_text(g, 10_000) and g for g in artist.genres)


@PROPERTY
@given(mutated(albums()))
def test_an_album_is_in_contract_or_refused(raw: dict[str, Any]) -> None:
    try:
        album = sm.parse_album(raw)
    except sm.ParseError:
        return
    assert_album(album)


@PROPERTY
@given(mutated(plays(PLAYABLE)))
def test_a_play_is_a_track_or_an_episode_in_contract_or_refused(raw: dict[str, Any]) -> None:
    try:
        play = sm.parse_play(raw, now=NOW)
    except sm.ParseError:
        return
    assert_instant(play.played_at)
    if isinstance(play, sm.EpisodePlay):
        assert_episode(play.episode)
    else:
        assert_track(play.track)


@PROPERTY
@given(mutated(saved(PLAYABLE)))
def test_a_saved_track_is_in_contract_or_refused(raw: dict[str, Any]) -> None:
    try:
        item = sm.parse_saved_track(raw, now=NOW)
    except sm.ParseError:
        return
    assert_track(item.track)
    if item.added_at is not None:
        assert_instant(item.added_at)


@PROPERTY
@given(mutated(audio_features()))
def test_audio_features_are_in_range_or_refused(raw: dict[str, Any]) -> None:
    try:
        features = sm.parse_audio_features(raw)
    except sm.ParseError:
        return
    assert storable_id(features.track_id)
    assert features_in_contract(features.as_dict())
    assert (sm.feature_violation(features.as_dict()) is None) is True


@PROPERTY
@given(st.lists(mutated(PLAYABLE), max_size=20))
def test_parse_each_keeps_the_good_and_counts_the_rest(raw: list[dict[str, Any]]) -> None:
    skipped = sm.Skipped()
    kept = sm.parse_each(raw, sm.parse_track, "/me/top/tracks", skipped)
    assert len(kept) + skipped.total == len(raw)
    for track in kept:
        assert_track(track)
    assert set(skipped.as_dict()) <= {"/me/top/tracks"}
