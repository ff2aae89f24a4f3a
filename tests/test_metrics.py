"""Metric labels are templates: Spotify paths lose their ids, unknown paths collapse."""

from __future__ import annotations

import pytest

from metrics import spotify_endpoint


@pytest.mark.parametrize(
    ("path", "template"),
    [
        pytest.param("/v1/me/top/tracks", "/me/top/tracks", id="top-tracks"),
        pytest.param("/v1/me/player/recently-played", "/me/player/recently-played", id="recent"),
        pytest.param("/v1/artists/4Ui2kfOqGujY81UcPrb5KE", "/artists/{id}", id="artist"),
        pytest.param(
            "/v1/artists/4Ui2kfOqGujY81UcPrb5KE/albums", "/artists/{id}/albums", id="albums"
        ),
        pytest.param("/v1/albums/abc/tracks", "/albums/{id}/tracks", id="album-tracks"),
        pytest.param("/v1/users/alice/playlists", "/users/{id}/playlists", id="user-named-words"),
        pytest.param("/v1/playlists/37i9dQZF1DX/items", "/playlists/{id}/items", id="playlist"),
        pytest.param("/v1/tracks", "/tracks", id="batch"),
        pytest.param("/v1/audio-features", "/audio-features", id="features"),
        pytest.param("/api/token", "/api/token", id="token"),
        pytest.param("/emulator/v1/search", "/search", id="prefixed-base"),
        pytest.param("/v1/me/tracks/contains", "/me/tracks/contains", id="me-words-kept"),
        pytest.param("/v1/me/shows/Xy9", "/me/shows/{id}", id="id-deeper-down"),
        pytest.param("/v1/whatever/alice", "other", id="unknown-root"),
        pytest.param("/", "other", id="root"),
    ],
)
def test_spotify_paths_become_templates(path: str, template: str) -> None:
    assert spotify_endpoint(path) == template
