"""Artist search (through Spotify) and artist profiles (from the catalogue, fetched weekly)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.artists import UnknownArtist
from db.users import USERNAME_PATTERN, UnknownUser
from jobs.artist_profiles import ArtistProfiles
from spotify_client import SpotifyError
from web.caching import NOT_MODIFIED, json_with_etag, shared_scope
from web.params import Param, bounded_int, operation, parse_username
from web.problems import not_found
from web.spotify_problems import SPOTIFY_RESPONSES, spotify_problem

SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")
QUERY_MAX = 200
# Spotify's 2026 caps for development-mode apps: 10 results a page, offsets up to 1000.
SEARCH_PAGE = 10
SEARCH_MAX_OFFSET = 1000


def parse_spotify_id(raw: str) -> str:
    if not SPOTIFY_ID.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ValueError(f"a Spotify id is 22 letters and digits, not {shown!r}")
    return raw


def parse_query(raw: str) -> str:
    query = raw.strip()
    if not query:
        raise ValueError("must not be empty")
    if len(query) > QUERY_MAX or "\x00" in query:
        raise ValueError(f"must be at most {QUERY_MAX} characters of text")
    return query


ARTIST_ID = Param(
    "id",
    "path",
    "Spotify id of the artist (22 letters and digits).",
    parse_spotify_id,
    {"type": "string", "pattern": f"^{SPOTIFY_ID.pattern}$"},
    required=True,
)
QUERY = Param(
    "q",
    "query",
    "Search words; Spotify's field filters work (`artist:`, `genre:`, `year:`).",
    parse_query,
    {"type": "string", "minLength": 1, "maxLength": QUERY_MAX},
    required=True,
)
LIMIT = Param(
    "limit",
    "query",
    f"Results on this page (1-{SEARCH_PAGE}: Spotify's 2026 cap).",
    bounded_int(1, SEARCH_PAGE),
    {"type": "integer", "minimum": 1, "maximum": SEARCH_PAGE, "default": SEARCH_PAGE},
    default=SEARCH_PAGE,
)
OFFSET = Param(
    "offset",
    "query",
    f"Index of the first result (0-{SEARCH_MAX_OFFSET}).",
    bounded_int(0, SEARCH_MAX_OFFSET),
    {"type": "integer", "minimum": 0, "maximum": SEARCH_MAX_OFFSET, "default": 0},
    default=0,
)
LISTENER = Param(
    "username",
    "query",
    "A registered user: adds how much they listen to the artist.",
    parse_username,
    {"type": "string", "pattern": f"^{USERNAME_PATTERN.pattern}$"},
)


def artist_profiles(request: Request) -> ArtistProfiles:
    """The service's artist search and profiles (the JSON routes and the artist page share it)."""
    profiles: ArtistProfiles = request.state.artists
    return profiles


@operation(
    "Search Spotify for artists (10 results a page, Spotify's 2026 cap)",
    QUERY,
    LIMIT,
    OFFSET,
    responses={
        200: "The artists Spotify found, best match first.",
        400: "The query is empty or too long, or limit or offset is out of range.",
        401: "An API key is required and was missing or wrong.",
        **SPOTIFY_RESPONSES,
    },
    tag="artists",
)
async def search(request: Request, q: str, limit: int, offset: int) -> Response:
    try:
        found = await artist_profiles(request).search(q, limit, offset)
    except SpotifyError as exc:
        raise spotify_problem(exc) from None
    next_offset = (
        offset + limit if len(found) == limit and offset + limit <= SEARCH_MAX_OFFSET else None
    )
    body: dict[str, Any] = {
        "query": q,
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset,
        "artists": [
            {**artist, "profile": str(request.url_for("artist_profile", id=artist["id"]))}
            for artist in found
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})


@operation(
    "An artist's profile: albums and tracks from the catalogue, the mean and spread of their "
    "tracks' audio features, and with ?username= how much that user listens to them",
    ARTIST_ID,
    LISTENER,
    responses={
        200: "The profile. Fetched from Spotify once, then served from the catalogue and "
        "refreshed after a week; its ETag is of the profile's bytes, to be revalidated.",
        304: NOT_MODIFIED,
        400: "The artist id or username is malformed.",
        401: "An API key is required and was missing or wrong.",
        404: "Spotify knows no such artist, or the user is unknown.",
        **SPOTIFY_RESPONSES,
    },
    tag="artists",
)
async def artist_profile(request: Request, id: str, username: str | None) -> Response:
    try:
        profile = await artist_profiles(request).profile(id, username)
    except (UnknownArtist, UnknownUser) as exc:
        raise not_found(str(exc)) from None
    except SpotifyError as exc:
        raise spotify_problem(exc) from None
    # A refresh, new features or new plays change it at any time: revalidate on every use.
    return json_with_etag(request, profile, f"{shared_scope(request)}, no-cache")
