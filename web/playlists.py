"""A user's playlists, and one playlist's audio-feature profile and clusters."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from db.users import UnknownUser
from jobs.playlist_profiles import PlaylistNotReadable, PlaylistProfiles, UnknownPlaylist
from jobs.user_sessions import NeedsReauthorisation, SessionUnavailable
from spotify_client import Forbidden, SpotifyError
from web.artists import SPOTIFY_ID, parse_spotify_id
from web.caching import NOT_MODIFIED, json_with_etag, shared_scope
from web.params import USERNAME, Param, operation
from web.problems import Problem, not_found
from web.spotify_problems import SPOTIFY_RESPONSES, spotify_problem

PLAYLIST_ID = Param(
    "id",
    "path",
    "Spotify id of the playlist (22 letters and digits).",
    parse_spotify_id,
    {"type": "string", "pattern": f"^{SPOTIFY_ID.pattern}$"},
    required=True,
)
USER_RESPONSES = {
    400: "A parameter is malformed.",
    401: "An API key is required and was missing or wrong.",
    404: "Unknown user.",
    409: "Spotify refused the user's authorisation: they must log in again (see reauth_url).",
    **SPOTIFY_RESPONSES,
}


def _profiles(request: Request) -> PlaylistProfiles:
    profiles: PlaylistProfiles = request.state.playlists
    return profiles


def _problem(request: Request, exc: Exception) -> Problem:
    if isinstance(exc, UnknownUser | UnknownPlaylist):
        return not_found(str(exc))
    if isinstance(exc, PlaylistNotReadable):
        return Problem(403, "Playlist not readable", str(exc), slug="playlist-not-readable")
    if isinstance(exc, NeedsReauthorisation):
        login = request.url_for("login").include_query_params(username=exc.username)
        return Problem(
            409, "Reauthorisation required", str(exc), slug="reauth-required", reauth_url=str(login)
        )
    if isinstance(exc, SessionUnavailable):
        return Problem(503, "Service unavailable", str(exc), slug="tokens-unreadable")
    if isinstance(exc, Forbidden):
        return Problem(
            403,
            "Spotify refuses this user",
            "Spotify refused this user's calls; a development-mode app answers only the users "
            "on its allow-list (at most five, set in Spotify's developer dashboard)",
            slug="user-not-allowed",
        )
    assert isinstance(exc, SpotifyError)
    return spotify_problem(exc)


ANSWERED = (
    UnknownUser,
    UnknownPlaylist,
    PlaylistNotReadable,
    NeedsReauthorisation,
    SessionUnavailable,
    SpotifyError,
)


@operation(
    "The user's playlists (owned and followed), asked of Spotify with their token",
    USERNAME,
    responses={
        200: "The playlists; `readable` says whether a profile can read the items (2026: only "
        "the user's own or collaborative playlists).",
        304: NOT_MODIFIED,
        403: "Spotify refuses this user (not on a development-mode app's allow-list).",
        **USER_RESPONSES,
    },
    tag="playlists",
)
async def playlists(request: Request, username: str) -> Response:
    try:
        found = await _profiles(request).playlists(username)
    except ANSWERED as exc:
        raise _problem(request, exc) from None
    for playlist in found:
        if playlist["readable"]:
            url = request.url_for("playlist_profile", username=username, id=playlist["id"])
            playlist["profile"] = str(url)
    body = {"username": username, "playlists": found}
    return json_with_etag(request, body, f"{shared_scope(request)}, no-cache")


@operation(
    "A playlist's audio-feature profile and its K-means clusters, labelled like a snapshot's",
    USERNAME,
    PLAYLIST_ID,
    responses={
        200: "The profile: mean, spread, min and max of each feature, and the clusters.",
        304: NOT_MODIFIED,
        403: "The playlist is neither the user's nor collaborative, so since 2026 Spotify lets "
        "no app read its items; or Spotify refuses this user.",
        **USER_RESPONSES,
        404: "Unknown user, or Spotify knows no such playlist.",
    },
    tag="playlists",
)
async def playlist_profile(request: Request, username: str, id: str) -> Response:
    try:
        profile = await _profiles(request).profile(username, id)
    except ANSWERED as exc:
        raise _problem(request, exc) from None
    # Read from Spotify each time (the playlist may have changed): revalidate on every use.
    return json_with_etag(request, profile, f"{shared_scope(request)}, no-cache")
