"""Endpoints only extended-quota apps keep: recommendations, audio features, batch lookups,
artist top tracks and related artists. Development-mode apps get 403 (404 for recommendations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spotify_emulator.errors import ApiError, forbidden, ids_param, int_param, not_found
from spotify_emulator.objects import DEVELOPMENT, Renderer
from spotify_emulator.state import EmulatorState, state_of
from spotify_emulator.world import UnknownSeedError, World

MAX_SEEDS = 5


def _extended(request: Request, removed: ApiError) -> EmulatorState:
    state = state_of(request)
    state.authorize(request, user=False)
    if state.mode == DEVELOPMENT:
        raise removed
    return state


def _seeds(request: Request, name: str) -> list[str]:
    return [s for s in request.query_params.get(name, "").split(",") if s]


async def recommendations(request: Request) -> JSONResponse:
    """GET /recommendations: tracks by other artists near the seeds' sound."""
    state = _extended(request, not_found())
    tracks, artists, genres = (
        _seeds(request, n) for n in ("seed_tracks", "seed_artists", "seed_genres")
    )
    if not 1 <= len(tracks) + len(artists) + len(genres) <= MAX_SEEDS:
        raise ApiError(400, "Invalid seeds")
    limit = int_param(request, "limit", 20, 1, 100)
    try:
        found = state.world.recommendations_for(tracks, artists, limit, seed_genres=genres)
    except UnknownSeedError:
        raise ApiError(400, "invalid request") from None
    render = state.renderer(request)
    seeds = [
        {
            "id": seed,
            "type": kind,
            "href": f"{render.api}/{kind.lower()}s/{seed}" if kind != "GENRE" else None,
            "initialPoolSize": 250,
            "afterFilteringSize": 250,
            "afterRelinkingSize": 250,
        }
        for kind, values in (("TRACK", tracks), ("ARTIST", artists), ("GENRE", genres))
        for seed in values
    ]
    return JSONResponse(
        {"seeds": seeds, "tracks": [render.track(state.world.tracks[t]) for t in found]}
    )


async def audio_features_batch(request: Request) -> JSONResponse:
    """GET /audio-features?ids= (at most 100); unknown ids answer null in place."""
    state = _extended(request, forbidden())
    render = state.renderer(request)
    ids = ids_param(request, 100)
    return JSONResponse(
        {
            "audio_features": [
                render.audio_features(i) if i in state.world.features else None for i in ids
            ]
        }
    )


async def audio_features(request: Request) -> JSONResponse:
    """GET /audio-features/{id}."""
    state = _extended(request, forbidden())
    track_id = request.path_params["id"]
    if track_id not in state.world.features:
        raise not_found()
    return JSONResponse(state.renderer(request).audio_features(track_id))


def _batch(
    request: Request,
    key: str,
    limit: int,
    known: Callable[[World], Mapping[str, Any]],
    render: Callable[[Renderer, Any], dict[str, Any]],
) -> JSONResponse:
    """A batch look-up: objects in the order asked, null for an unknown id, as Spotify does."""
    state = _extended(request, forbidden())
    found, renderer = known(state.world), state.renderer(request)
    ids = ids_param(request, limit)
    return JSONResponse({key: [render(renderer, found[i]) if i in found else None for i in ids]})


async def tracks_batch(request: Request) -> JSONResponse:
    """GET /tracks?ids= (at most 50)."""
    return _batch(request, "tracks", 50, lambda w: w.tracks, Renderer.track)


async def artists_batch(request: Request) -> JSONResponse:
    """GET /artists?ids= (at most 50)."""
    return _batch(request, "artists", 50, lambda w: w.artists, Renderer.artist)


async def albums_batch(request: Request) -> JSONResponse:
    """GET /albums?ids= (at most 20)."""
    return _batch(request, "albums", 20, lambda w: w.albums, Renderer.album)


async def artist_top_tracks(request: Request) -> JSONResponse:
    """GET /artists/{id}/top-tracks."""
    state = _extended(request, forbidden())
    artist_id = request.path_params["id"]
    if artist_id not in state.world.artists:
        raise not_found()
    render = state.renderer(request)
    top = state.world.top_tracks_of_artist(artist_id)
    return JSONResponse({"tracks": [render.track(state.world.tracks[t]) for t in top]})


async def related_artists(request: Request) -> JSONResponse:
    """GET /artists/{id}/related-artists."""
    state = _extended(request, forbidden())
    artist_id = request.path_params["id"]
    if artist_id not in state.world.artists:
        raise not_found()
    render = state.renderer(request)
    related = state.world.related_artists(artist_id)
    return JSONResponse({"artists": [render.artist(state.world.artists[a]) for a in related]})


routes = [
    Route("/recommendations", recommendations),
    Route("/audio-features", audio_features_batch),
    Route("/audio-features/{id}", audio_features),
    Route("/tracks", tracks_batch),
    Route("/artists", artists_batch),
    Route("/albums", albums_batch),
    Route("/artists/{id}/top-tracks", artist_top_tracks),
    Route("/artists/{id}/related-artists", related_artists),
]
