"""Web API endpoints about the signed-in user: profile, top items, history, library, playlists."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spotify_emulator.errors import ApiError, forbidden, not_found
from spotify_emulator.model import TIME_RANGES, Playlist
from spotify_emulator.objects import iso
from spotify_emulator.paging import limits, offset_page
from spotify_emulator.state import state_of

# Spotify keeps only the last 50 plays; older history is gone for good.
HISTORY_SIZE = 50


async def me(request: Request) -> JSONResponse:
    """GET /me."""
    state = state_of(request)
    grant = state.authorize(request)
    assert grant.user_id is not None
    return JSONResponse(state.renderer(request).user(state.world.user(grant.user_id)))


async def top(request: Request) -> JSONResponse:
    """GET /me/top/{artists|tracks}."""
    state = state_of(request)
    kind = request.path_params["kind"]
    if kind not in ("artists", "tracks"):
        raise not_found()
    grant = state.authorize(request, "user-top-read")
    time_range = request.query_params.get("time_range", "medium_term")
    if time_range not in TIME_RANGES:
        raise ApiError(400, "Invalid time range")
    limit, offset = limits(request, 20, 50)
    world, render = state.world, state.renderer(request)
    ranked = state.top(str(grant.user_id), kind, time_range)

    def one(item_id: str) -> dict[str, Any]:
        if kind == "artists":
            return render.artist(world.artists[item_id])
        return render.track(world.tracks[item_id])

    return JSONResponse(offset_page(request, ranked, one, limit, offset))


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _cursor(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise ApiError(400, f"Invalid {name}")
    return int(raw)


async def recently_played(request: Request) -> JSONResponse:
    """GET /me/player/recently-played: cursor paging over the last 50 plays."""
    state = state_of(request)
    grant = state.authorize(request, "user-read-recently-played")
    limit, _ = limits(request, 20, 50)
    before, after = _cursor(request, "before"), _cursor(request, "after")
    if before is not None and after is not None:
        raise ApiError(400, "Only one of before and after may be given")
    plays = state.history(str(grant.user_id))[:HISTORY_SIZE]
    if after is not None:
        # Forward paging: the plays just after the cursor, so none is skipped.
        newer = [play for play in plays if _ms(play[1]) > after]
        page, more = newer[-limit:], len(newer) > limit
    else:
        older = [play for play in plays if before is None or _ms(play[1]) < before]
        page, more = older[:limit], len(older) > limit
    return JSONResponse(_history_page(request, page, more, limit, after is not None))


def _history_page(
    request: Request, page: list[tuple[str, dt.datetime]], more: bool, limit: int, forward: bool
) -> dict[str, Any]:
    render = state_of(request).renderer(request)
    cursors = {"after": str(_ms(page[0][1])), "before": str(_ms(page[-1][1]))} if page else None
    next_url = None
    if more and cursors:
        key = "after" if forward else "before"
        params = {key: cursors[key], "limit": str(limit)}
        next_url = str(
            request.url.remove_query_params(["after", "before"]).include_query_params(**params)
        )
    items = [
        {"track": render.playable(key), "played_at": iso(at), "context": None} for key, at in page
    ]
    return {
        "href": str(request.url),
        "items": items,
        "limit": limit,
        "next": next_url,
        "cursors": cursors,
    }


async def saved_tracks(request: Request) -> JSONResponse:
    """GET /me/tracks: the user's library, newest first."""
    state = state_of(request)
    grant = state.authorize(request, "user-library-read")
    limit, offset = limits(request, 20, 50)
    user, render = state.world.user(str(grant.user_id)), state.renderer(request)

    def item(saved: tuple[str, dt.datetime]) -> dict[str, Any]:
        return {"added_at": iso(saved[1]), "track": render.playable(saved[0])}

    items = state.oddities.saved(state.world, user)
    return JSONResponse(offset_page(request, items, item, limit, offset))


def _followed_playlists(request: Request, user_id: str) -> list[Playlist]:
    # Each user owns one playlist and follows the next user's, so ownership checks have a case.
    world = state_of(request).world
    index = [u.id for u in world.users].index(user_id)
    ids = [world.users[index].playlist_id, world.users[(index + 1) % len(world.users)].playlist_id]
    return [world.playlists[pid] for pid in dict.fromkeys(ids)]


async def my_playlists(request: Request) -> JSONResponse:
    """GET /me/playlists."""
    state = state_of(request)
    grant = state.authorize(request, "playlist-read-private")
    limit, offset = limits(request, 20, 50, 100_000)
    playlists = _followed_playlists(request, str(grant.user_id))
    render = state.renderer(request)
    return JSONResponse(offset_page(request, playlists, render.simple_playlist, limit, offset))


def _playlist(request: Request) -> Playlist:
    playlist = state_of(request).world.playlists.get(request.path_params["playlist_id"])
    if playlist is None:
        raise not_found()
    return playlist


async def playlist(request: Request) -> JSONResponse:
    """GET /playlists/{id}, with the first 50 items embedded."""
    state = state_of(request)
    state.authorize(request, user=False)
    found, render = _playlist(request), state.renderer(request)
    items_url = f"{render.api}/playlists/{found.id}/items"
    entries = state.oddities.playlist(state.world, found)
    items = {
        "href": f"{items_url}?offset=0&limit=50",
        "items": [render.playlist_item(found, key, at) for key, at in entries[:50]],
        "limit": 50,
        "next": f"{items_url}?offset=50&limit=50" if len(entries) > 50 else None,
        "offset": 0,
        "previous": None,
        "total": len(entries),
    }
    return JSONResponse(
        {**render.simple_playlist(found), "followers": {"href": None, "total": 0}, "items": items}
    )


async def playlist_items(request: Request) -> JSONResponse:
    """GET /playlists/{id}/items: only for playlists the user owns (2026 rule)."""
    state = state_of(request)
    grant = state.authorize(request, "playlist-read-private")
    found = _playlist(request)
    if found.owner_id != grant.user_id:
        raise forbidden()
    limit, offset = limits(request, 20, 50)
    render = state.renderer(request)
    entries = state.oddities.playlist(state.world, found)
    return JSONResponse(
        offset_page(request, entries, lambda e: render.playlist_item(found, *e), limit, offset)
    )


routes = [
    Route("/me", me),
    Route("/me/top/{kind}", top),
    Route("/me/player/recently-played", recently_played),
    Route("/me/tracks", saved_tracks),
    Route("/me/playlists", my_playlists),
    Route("/playlists/{playlist_id}", playlist),
    Route("/playlists/{playlist_id}/items", playlist_items),
]
