"""Catalogue endpoints every app keeps: lookups, album tracks, artist albums, search."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spotify_emulator.errors import ApiError, not_found
from spotify_emulator.model import Album, Artist, Track
from spotify_emulator.paging import limits, offset_page
from spotify_emulator.search import (
    SEARCH_TYPES,
    parse_query,
    search_albums,
    search_artists,
    search_tracks,
)
from spotify_emulator.state import EmulatorState, state_of


def _catalogue(request: Request) -> EmulatorState:
    state = state_of(request)
    state.authorize(request, user=False)
    return state


def _lookup(table: dict[str, Any], item_id: str) -> Any:
    if item_id not in table:
        raise not_found()
    return table[item_id]


def _development_caps(state: EmulatorState, development: int, extended: int) -> int:
    return development if state.mode == "development" else extended


async def track(request: Request) -> JSONResponse:
    """GET /tracks/{id}."""
    state = _catalogue(request)
    found: Track = _lookup(state.world.tracks, request.path_params["id"])
    return JSONResponse(state.renderer(request).track(found))


async def artist(request: Request) -> JSONResponse:
    """GET /artists/{id}."""
    state = _catalogue(request)
    found: Artist = _lookup(state.world.artists, request.path_params["id"])
    return JSONResponse(state.renderer(request).artist(found))


async def album(request: Request) -> JSONResponse:
    """GET /albums/{id}, with its tracks embedded as a paging object."""
    state = _catalogue(request)
    found: Album = _lookup(state.world.albums, request.path_params["id"])
    return JSONResponse(state.renderer(request).album(found))


async def album_tracks(request: Request) -> JSONResponse:
    """GET /albums/{id}/tracks."""
    state = _catalogue(request)
    found: Album = _lookup(state.world.albums, request.path_params["id"])
    limit, offset = limits(request, 20, 50)
    render = state.renderer(request)
    page = offset_page(
        request,
        found.track_ids,
        lambda t: render.simple_track(state.world.tracks[t]),
        limit,
        offset,
    )
    return JSONResponse(page)


async def artist_albums(request: Request) -> JSONResponse:
    """GET /artists/{id}/albums (limit at most 10 in development mode)."""
    state = _catalogue(request)
    found: Artist = _lookup(state.world.artists, request.path_params["id"])
    maximum = _development_caps(state, 10, 50)
    limit, offset = limits(request, min(20, maximum), maximum)
    groups = request.query_params.get("include_groups", "album,single").split(",")
    albums = [state.world.albums[a] for a in found.album_ids]
    albums = [a for a in albums if a.album_type in groups]
    render = state.renderer(request)
    return JSONResponse(offset_page(request, albums, render.simple_album, limit, offset))


async def search(request: Request) -> JSONResponse:
    """GET /search (limit at most 10 and default 5 in development mode; offset at most 1000)."""
    state = _catalogue(request)
    query = request.query_params.get("q", "").strip()
    if not query:
        raise ApiError(400, "No search query")
    types = [t for t in request.query_params.get("type", "").split(",") if t]
    if not types:
        raise ApiError(400, "Missing parameter type")
    if any(t not in SEARCH_TYPES for t in types):
        raise ApiError(400, "Bad search type field")
    maximum = _development_caps(state, 10, 50)
    limit, offset = limits(request, _development_caps(state, 5, 20), maximum, 1000)
    words, filters = parse_query(query)
    render, world = state.renderer(request), state.world
    finders: dict[str, tuple[Callable[..., Sequence[Any]], Callable[[Any], Any]]] = {
        "track": (search_tracks, render.track),
        "artist": (search_artists, render.artist),
        "album": (search_albums, render.simple_album),
    }
    body = {}
    for kind in types:
        finder, draw = finders[kind]
        body[f"{kind}s"] = offset_page(request, finder(world, words, filters), draw, limit, offset)
    return JSONResponse(body)


routes = [
    Route("/search", search),
    Route("/tracks/{id}", track),
    Route("/artists/{id}", artist),
    Route("/artists/{id}/albums", artist_albums),
    Route("/albums/{id}", album),
    Route("/albums/{id}/tracks", album_tracks),
]
