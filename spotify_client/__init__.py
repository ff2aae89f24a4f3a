"""Everything that speaks to Spotify: auth, limits, retries, capabilities and typed answers.

One `SpotifyClient` per process wraps the shared `httpx.AsyncClient`; `for_user` gives each
user a `UserSession`. The implementation lives in private modules, one concept each; import
from here only:

- `_errors`: the typed errors and the translation of Spotify's answers into them
- `_requester`: concurrency cap, the shared Retry-After gate, retries, the quota pause
- `_pacer`: the shared pace toward the rate Spotify allows, learned from its 429s
- `_deadline`: how long the work in progress may wait on rate limits
- `_auth`: the token endpoint, the token cache and the bearer `httpx.Auth`
- `_capabilities`: which optional endpoints this app has lost, and where that is kept
- `_paging`: offset pages, cursor pages and id chunks
- `_api`: one GET to the Web API, with the capability gate and parsing
- `_client`, `_session`: the app's calls and one user's calls
- `_virtual_time`: a stand-in clock for the tests and the pacer's benchmark
"""

from __future__ import annotations

from spotify_client._capabilities import CAPABILITIES, CapabilityStore, MemoryCapabilityStore
from spotify_client._client import SpotifyClient
from spotify_client._errors import (
    BadRequest,
    EndpointUnavailable,
    Forbidden,
    InvalidGrant,
    MalformedResponse,
    NotFound,
    QuotaExceeded,
    RateLimited,
    SpotifyAuthError,
    SpotifyError,
    SpotifyUnavailable,
    Unauthorized,
)
from spotify_client._pacer import PaceSettings
from spotify_client._paging import chunks
from spotify_client._requester import RetryPolicy, create_http_client, retry_after_seconds
from spotify_client._session import (
    RECENTLY_PLAYED,
    SAVED_TRACKS,
    TOP_ARTISTS,
    TOP_TRACKS,
    CheckedLogin,
    RecentPlays,
    UserSession,
)
from spotify_client._virtual_time import VirtualTime
from spotify_models import (
    Album,
    Artist,
    ArtistRef,
    AudioFeatures,
    EpisodePlay,
    Play,
    Playlist,
    Profile,
    SavedTrack,
    Skipped,
    TokenGrant,
    Track,
)

__all__ = [
    "CAPABILITIES",
    "RECENTLY_PLAYED",
    "SAVED_TRACKS",
    "TOP_ARTISTS",
    "TOP_TRACKS",
    "Album",
    "Artist",
    "ArtistRef",
    "AudioFeatures",
    "BadRequest",
    "CapabilityStore",
    "CheckedLogin",
    "EndpointUnavailable",
    "EpisodePlay",
    "Forbidden",
    "InvalidGrant",
    "MalformedResponse",
    "MemoryCapabilityStore",
    "NotFound",
    "PaceSettings",
    "Play",
    "Playlist",
    "Profile",
    "QuotaExceeded",
    "RateLimited",
    "RecentPlays",
    "RetryPolicy",
    "SavedTrack",
    "Skipped",
    "SpotifyAuthError",
    "SpotifyClient",
    "SpotifyError",
    "SpotifyUnavailable",
    "TokenGrant",
    "Track",
    "Unauthorized",
    "UserSession",
    "VirtualTime",
    "chunks",
    "create_http_client",
    "retry_after_seconds",
]
