"""`/artists/{id}`: an artist's profile as a page, their sound against a listener's clusters.

The profile is GET /artists/{id}/profile's (`jobs.artist_profiles`); the listener is
`?username=` (links from a person's page carry it) or whoever is signed in, and is checked
like every page: their clusters and listening are theirs to show.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from db import documents
from db.artists import UnknownArtist
from db.queries import SnapshotNotFound
from db.users import UnknownUser
from spotify_client import SpotifyError
from web import charts
from web.access import require_page_viewer, signed_in_username
from web.artists import ARTIST_ID, LISTENER, artist_profiles
from web.params import operation
from web.problems import Problem, not_found
from web.spotify_problems import spotify_problem
from web.templating import page, render_page
from web.user_page import PAGE_RESPONSES, snapshot_document

ALBUMS_SHOWN = 20
TRACKS_SHOWN = 30


def _sign_in_first() -> Problem:
    return Problem(
        401, "Sign in", "sign in to compare this artist with your taste", slug="unauthorized"
    )


async def _listener(request: Request, username: str | None) -> str:
    listener = username or signed_in_username(request)
    if listener is None:
        raise _sign_in_first()
    await require_page_viewer(request, listener)
    return listener


async def _clusters(request: Request, listener: str) -> list[dict[str, Any]]:
    try:
        found = await snapshot_document(request, listener, None, documents.CLUSTERS)
    except SnapshotNotFound:
        return []
    clusters: list[dict[str, Any]] = found["clusters"]
    return clusters


def _radar(profile: dict[str, Any], clusters: list[dict[str, Any]]) -> dict[str, Any] | None:
    means = {name: spread["mean"] for name, spread in profile["features"]["profile"].items()}
    if not means:
        return None
    shapes = [(profile["artist"]["name"] or "this artist", means)]
    shapes += [(f"your {c['label']} ({c['size']})", c["centroid"]) for c in clusters]
    return charts.radar("artist-radar", "The artist's sound against your clusters", shapes)


@page
@operation(
    "An artist's page: albums, tracks and sound, against the listener's clusters",
    ARTIST_ID,
    LISTENER,
    responses={**PAGE_RESPONSES, 503: "Spotify could not be asked (HTML page)."},
    protected=False,
    tag="pages",
    strict=False,
)
async def artist_page(request: Request, id: str, username: str | None) -> Response:
    listener = await _listener(request, username)
    try:
        profile = await artist_profiles(request).profile(id, listener)
    except (UnknownArtist, UnknownUser) as exc:
        raise not_found(str(exc)) from None
    except SpotifyError as exc:
        raise spotify_problem(exc) from None
    clusters = await _clusters(request, listener)
    context = {
        "title": profile["artist"]["name"] or id,
        "listener": listener,
        "profile": profile,
        "albums": profile["albums"][:ALBUMS_SHOWN],
        "tracks": profile["tracks"][:TRACKS_SHOWN],
        "has_clusters": bool(clusters),
        "radar": _radar(profile, clusters),
    }
    return render_page(request, "artist.html", context)
