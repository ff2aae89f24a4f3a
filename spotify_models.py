"""Typed, frozen views of Spotify answers, the parsers that build them, and their contract.

The contract (the README's "What Spotify can send and what we do with it" is the same as a table):

- **Required** fields (ids, names, a track's uri, `played_at`, every audio feature) that are
  missing, null or invalid raise `ParseError`. A page parser (`parse_each`) then skips the item
  and counts it in a `Skipped` tally; a single document (`/me`, a token) is `MalformedResponse`.
- **Optional** fields that Spotify removed for development-mode apps (popularity, genres,
  images, external ids...) are None when absent or null.
- **Numbers** must lie in their range (`FEATURE_RANGES`, `POPULARITY_RANGE`, `DURATION_MS_RANGE`)
  when present; one outside it means a broken item, which is skipped.
- **Timestamps** must parse as ISO 8601 and be plausible (`PLAUSIBLE_SINCE` to a day from now).
- **Descriptive** values that cannot be stored as they are become None (`release_date` must be
  YYYY, YYYY-MM or YYYY-MM-DD; Spotify itself sends "0000" for unknown dates); names lose NUL
  characters (PostgreSQL refuses them) and are cut to `MAX_NAME` characters; text with a lone
  UTF-16 surrogate (which JSON can escape, and no database can store) is not text at all.
- **Local files** (`is_local: true`, id null) and **episodes** (`type: episode`) are recognised:
  `parse_playable` returns a `LocalTrack` or an `Episode`, `parse_track` raises `NotATrack`,
  and `parse_play` returns an `EpisodePlay`. None of them is ever parsed as a track.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# The Spotify vocabulary the rest of the service speaks in.
AUDIO_FEATURE_NAMES = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)
# Spotify's time ranges for top items: ~4 weeks, ~6 months, ~1 year.
TIME_RANGES = ("short_term", "medium_term", "long_term")
ITEM_TYPES = ("artists", "tracks")

# Spotify sends these three as integers; every other audio feature is a float.
_INTEGER_FEATURES = frozenset({"key", "mode", "time_signature"})

# Spotify's documented ranges, inclusive. Loudness is "typically -60 to 0 dB", but mastered
# tracks do peak above 0 (the public 114k-track dataset reaches +4.5 dB), so +6 dB is allowed;
# tempo has no documented bound and real songs stay under 250 BPM. Key -1 means "no key".
FEATURE_RANGES: Mapping[str, tuple[float, float]] = {
    "danceability": (0.0, 1.0),
    "energy": (0.0, 1.0),
    "key": (-1, 11),
    "loudness": (-60.0, 6.0),
    "mode": (0, 1),
    "speechiness": (0.0, 1.0),
    "acousticness": (0.0, 1.0),
    "instrumentalness": (0.0, 1.0),
    "liveness": (0.0, 1.0),
    "valence": (0.0, 1.0),
    "tempo": (0.0, 300.0),
    "time_signature": (3, 7),
}
POPULARITY_RANGE = (0, 100)
# Longer than a day is no recording; zero or negative is no duration.
DURATION_MS_RANGE = (1, 24 * 3600 * 1000)
# Spotify was founded in 2006: nothing was played or saved on it before.
PLAUSIBLE_SINCE = dt.datetime(2006, 1, 1, tzinfo=dt.UTC)
# A clock a little ahead of ours is Spotify's; a day ahead is a broken value.
PLAUSIBLE_AHEAD = dt.timedelta(days=1)
TOKEN_LIFETIME_RANGE = (1, 24 * 3600)
DEFAULT_TOKEN_LIFETIME = 3600
# The widths of the catalogue's columns (db/models.py).
MAX_NAME = 512
MAX_URI = 128
MAX_ISRC = 32
# Spotify ids are base62 (22 characters today); the column holds 64. Never a comma, which
# would split a batch request's `ids=`.
_CATALOGUE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_RELEASE_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

LOCAL_FILE = "local file"
EPISODE = "episode"


class ParseError(ValueError):
    """A JSON value breaks the contract; the message is the reason, never the value itself."""

    @property
    def reason(self) -> str:
        return str(self)


class NotATrack(ParseError):
    """A local file or an episode where a track was expected: recognised, never a track."""

    def __init__(self, item: LocalTrack | Episode) -> None:
        super().__init__(LOCAL_FILE if isinstance(item, LocalTrack) else EPISODE)
        self.item = item


@dataclasses.dataclass(frozen=True)
class ArtistRef:
    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...] | None
    popularity: int | None
    image_url: str | None


@dataclasses.dataclass(frozen=True)
class Album:
    id: str
    name: str
    artists: tuple[ArtistRef, ...]
    release_date: str | None
    image_url: str | None


@dataclasses.dataclass(frozen=True)
class Track:
    id: str
    name: str
    uri: str
    duration_ms: int | None
    artists: tuple[ArtistRef, ...]
    album: Album | None
    popularity: int | None
    isrc: str | None
    explicit: bool | None


@dataclasses.dataclass(frozen=True)
class LocalTrack:
    """A file from the user's own device: no id, nothing Spotify can say more about."""

    name: str | None
    uri: str | None
    duration_ms: int | None


@dataclasses.dataclass(frozen=True)
class Episode:
    """A podcast episode where a track could have been."""

    id: str
    name: str
    uri: str | None
    duration_ms: int | None
    show_id: str | None
    show_name: str | None


@dataclasses.dataclass(frozen=True)
class AudioFeatures:
    track_id: str
    danceability: float
    energy: float
    key: int
    loudness: float
    mode: int
    speechiness: float
    acousticness: float
    instrumentalness: float
    liveness: float
    valence: float
    tempo: float
    time_signature: int

    def as_dict(self) -> dict[str, float]:
        """The twelve features by name, as floats (the clustering input)."""
        return {name: float(getattr(self, name)) for name in AUDIO_FEATURE_NAMES}


@dataclasses.dataclass(frozen=True)
class Play:
    track: Track
    played_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class EpisodePlay:
    episode: Episode
    played_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class SavedTrack:
    track: Track
    added_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Playlist:
    id: str
    name: str
    owner_id: str
    collaborative: bool
    owner_name: str | None = None
    total: int | None = None
    image_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    id: str
    account_id: str | None
    display_name: str | None


@dataclasses.dataclass(frozen=True)
class TokenGrant:
    access_token: str = dataclasses.field(repr=False)
    expires_in: int
    scope: str
    refresh_token: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class Skipped:
    """What page parsers left out, counted by endpoint and reason (never the values)."""

    counts: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)

    def add(self, where: str, reason: str, count: int = 1) -> None:
        self.counts[(where, reason)] += count

    def merge(self, other: Skipped) -> None:
        self.counts.update(other.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """{endpoint: {reason: count}}, sorted, ready to be stored as JSON."""
        grouped: dict[str, dict[str, int]] = {}
        for (where, reason), count in sorted(self.counts.items()):
            grouped.setdefault(where, {})[reason] = count
        return grouped


def parse_each(
    raw: Iterable[Any], parse: Callable[[Any], T], where: str, skipped: Skipped
) -> list[T]:
    """Every item that keeps the contract; each one that breaks it is counted in `skipped`."""
    items: list[T] = []
    for value in raw:
        try:
            items.append(parse(value))
        except ParseError as exc:
            skipped.add(where, exc.reason)
    return items


def as_object(value: Any, what: str = "document") -> Mapping[str, Any]:
    """`value` if it is a JSON object, else ParseError."""
    if not isinstance(value, Mapping):
        raise ParseError(f"{what} is not a JSON object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """`value` if it is a JSON array, else ParseError."""
    if not isinstance(value, list):
        raise ParseError(f"{what} is not a JSON array")
    return value


def _is_text(value: str) -> bool:
    # JSON may escape a lone UTF-16 surrogate ("\\ud800"): no database stores it as text,
    # and no JSON answer of ours could be encoded with it.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def required_str(data: Mapping[str, Any], key: str) -> str:
    """A string field that must be present, non-empty and encodable as UTF-8."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ParseError(f"field {key!r} is missing or not a string")
    if not _is_text(value):
        raise ParseError(f"field {key!r} is not valid text")
    return value


def _catalogue_id(data: Mapping[str, Any], key: str = "id") -> str:
    value = required_str(data, key)
    if not _CATALOGUE_ID.fullmatch(value):
        raise ParseError(f"field {key!r} is not a Spotify id")
    return value


def _name(data: Mapping[str, Any], key: str = "name") -> str:
    """A required name, storable: NUL removed, cut to MAX_NAME characters."""
    name = required_str(data, key).replace("\x00", "")[:MAX_NAME]
    if not name.strip():
        raise ParseError(f"field {key!r} is blank")
    return name


def _optional_str(data: Mapping[str, Any], key: str, max_length: int | None = None) -> str | None:
    value = data.get(key)
    if not isinstance(value, str) or "\x00" in value or not _is_text(value):
        return None
    return value if max_length is None or len(value) <= max_length else None


def _optional_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _is_number(value: Any) -> bool:
    # bool is an int subclass: a stray true must never become a 1.
    if isinstance(value, bool):
        return False
    # An int never overflows a comparison; a float must be finite (json reads NaN and Infinity).
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _bounded_int(data: Mapping[str, Any], key: str, bounds: tuple[int, int]) -> int | None:
    """An optional integer: None when absent or null, ParseError when outside `bounds`."""
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or value != int(value) or not bounds[0] <= value <= bounds[1]:
        raise ParseError(f"field {key!r} is not an integer in {bounds[0]}..{bounds[1]}")
    return int(value)


def _feature(data: Mapping[str, Any], name: str) -> float | int:
    value: Any = data.get(name)
    low, high = FEATURE_RANGES[name]
    if not _is_number(value) or not low <= value <= high:
        raise ParseError(f"feature {name!r} is missing or outside {low:g}..{high:g}")
    if name in _INTEGER_FEATURES:
        if value != int(value):
            raise ParseError(f"feature {name!r} is not an integer")
        return int(value)
    return float(value)


def feature_violation(values: Mapping[str, float]) -> str | None:
    """Why these twelve features break the contract, or None when they keep it."""
    try:
        for name in AUDIO_FEATURE_NAMES:
            _feature(values, name)
    except ParseError as exc:
        return exc.reason
    return None


def _image_url(data: Mapping[str, Any]) -> str | None:
    images = data.get("images")
    if isinstance(images, list) and images and isinstance(images[0], Mapping):
        return _optional_str(images[0], "url")
    return None


def parse_timestamp(value: Any, what: str, now: dt.datetime | None = None) -> dt.datetime:
    """A plausible ISO 8601 instant (since `PLAUSIBLE_SINCE`, at most a day ahead), aware UTC."""
    if not isinstance(value, str):
        raise ParseError(f"{what} is missing or not a string")
    try:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        parsed = parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ParseError(f"{what} is not an ISO 8601 timestamp") from None
    latest = (now or dt.datetime.now(dt.UTC)) + PLAUSIBLE_AHEAD
    if not PLAUSIBLE_SINCE <= parsed <= latest:
        raise ParseError(f"{what} is not a plausible instant")
    return parsed


def release_date(value: Any) -> str | None:
    """`value` if it is YYYY, YYYY-MM or YYYY-MM-DD naming a real date, else None."""
    match = _RELEASE_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    # Year 0000 is how Spotify says "unknown"; pre-releases are announced about a year ahead.
    return value if 1000 <= year <= dt.date.today().year + 1 else None


def parse_artist_ref(value: Any) -> ArtistRef:
    """A simplified artist (inside tracks and albums): id and name required."""
    data = as_object(value, "artist")
    return ArtistRef(id=_catalogue_id(data), name=_name(data))


def _artist_refs(data: Mapping[str, Any]) -> tuple[ArtistRef, ...]:
    artists = data.get("artists")
    if artists is None:
        return ()
    return tuple(parse_artist_ref(item) for item in as_list(artists, "artists"))


def _genres(data: Mapping[str, Any]) -> tuple[str, ...] | None:
    genres = data.get("genres")
    if not isinstance(genres, list):
        return None
    return tuple(g for g in genres if isinstance(g, str) and g and "\x00" not in g and _is_text(g))


def parse_artist(value: Any) -> Artist:
    """A full artist: id and name required; genres, popularity (0-100) and image optional."""
    data = as_object(value, "artist")
    return Artist(
        id=_catalogue_id(data),
        name=_name(data),
        genres=_genres(data),
        popularity=_bounded_int(data, "popularity", POPULARITY_RANGE),
        image_url=_image_url(data),
    )


def parse_album(value: Any) -> Album:
    """A full or simplified album: id and name required; artists, release date, image optional."""
    data = as_object(value, "album")
    return Album(
        id=_catalogue_id(data),
        name=_name(data),
        artists=_artist_refs(data),
        release_date=release_date(data.get("release_date")),
        image_url=_image_url(data),
    )


def _is_local(data: Mapping[str, Any]) -> bool:
    uri = data.get("uri")
    return data.get("is_local") is True or (
        isinstance(uri, str) and uri.startswith("spotify:local:")
    )


def _local_track(data: Mapping[str, Any]) -> LocalTrack:
    name = _optional_str(data, "name")
    return LocalTrack(
        name=name[:MAX_NAME] if name else None,
        uri=_optional_str(data, "uri"),
        duration_ms=_lenient_duration(data),
    )


def _lenient_duration(data: Mapping[str, Any]) -> int | None:
    try:
        return _bounded_int(data, "duration_ms", DURATION_MS_RANGE)
    except ParseError:
        return None


def parse_episode(value: Any) -> Episode:
    """A podcast episode: id and name required; uri, duration and its show optional."""
    data = as_object(value, "episode")
    show = data.get("show")
    show = show if isinstance(show, Mapping) else {}
    show_id = _optional_str(show, "id")
    show_name = _optional_str(show, "name")
    return Episode(
        id=_catalogue_id(data),
        name=_name(data),
        uri=_optional_str(data, "uri", MAX_URI),
        duration_ms=_bounded_int(data, "duration_ms", DURATION_MS_RANGE),
        show_id=show_id if show_id and _CATALOGUE_ID.fullmatch(show_id) else None,
        show_name=show_name[:MAX_NAME] if show_name else None,
    )


def parse_playable(value: Any, album: Album | None = None) -> Track | LocalTrack | Episode:
    """What can stand where a track is expected: a track, a local file or an episode."""
    data = as_object(value, "track")
    if _is_local(data):
        return _local_track(data)
    kind = data.get("type", "track")
    uri = data.get("uri")
    # An episode that lost its type still names itself in its uri.
    if kind == "episode" or (isinstance(uri, str) and uri.startswith("spotify:episode:")):
        return parse_episode(data)
    if kind != "track":
        raise ParseError("field 'type' is neither track nor episode")
    return _track(data, album)


def parse_track(value: Any, album: Album | None = None) -> Track:
    """A full track, or a simplified one given its album; NotATrack for local files, episodes.

    Required: id (a Spotify id), name, uri (at most 128 characters). Optional: duration_ms
    (1 ms to a day), popularity (0-100), album, artists (each with id and name), isrc, explicit.
    """
    playable = parse_playable(value, album)
    if not isinstance(playable, Track):
        raise NotATrack(playable)
    return playable


def _track_uri(data: Mapping[str, Any]) -> str:
    uri = required_str(data, "uri")
    if len(uri) > MAX_URI or "\x00" in uri:
        raise ParseError("field 'uri' is too long or not text")
    return uri


def _track(data: Mapping[str, Any], album: Album | None) -> Track:
    raw_album = data.get("album")
    external_ids = data.get("external_ids")
    return Track(
        id=_catalogue_id(data),
        name=_name(data),
        uri=_track_uri(data),
        duration_ms=_bounded_int(data, "duration_ms", DURATION_MS_RANGE),
        artists=_artist_refs(data),
        album=parse_album(raw_album) if raw_album is not None else album,
        popularity=_bounded_int(data, "popularity", POPULARITY_RANGE),
        isrc=_optional_str(external_ids, "isrc", MAX_ISRC)
        if isinstance(external_ids, Mapping)
        else None,
        explicit=_optional_bool(data, "explicit"),
    )


def parse_audio_features(value: Any) -> AudioFeatures:
    """One entry of `/audio-features`: the track id and all twelve features, each in range."""
    data = as_object(value, "audio features")
    features: dict[str, Any] = {name: _feature(data, name) for name in AUDIO_FEATURE_NAMES}
    return AudioFeatures(track_id=_catalogue_id(data), **features)


def parse_play(value: Any, now: dt.datetime | None = None) -> Play | EpisodePlay:
    """One entry of `/me/player/recently-played`: a track or an episode, and a plausible
    `played_at`. A local file raises NotATrack."""
    data = as_object(value, "play")
    played_at = parse_timestamp(data.get("played_at"), "played_at", now)
    playable = parse_playable(data.get("track"))
    if isinstance(playable, Episode):
        return EpisodePlay(episode=playable, played_at=played_at)
    if isinstance(playable, LocalTrack):
        raise NotATrack(playable)
    return Play(track=playable, played_at=played_at)


def parse_saved_track(value: Any, now: dt.datetime | None = None) -> SavedTrack:
    """One entry of `/me/tracks`: a track and an optional plausible `added_at`."""
    data = as_object(value, "saved track")
    added_at = data.get("added_at")
    return SavedTrack(
        track=parse_track(data.get("track")),
        added_at=parse_timestamp(added_at, "added_at", now) if added_at is not None else None,
    )


def parse_playlist(value: Any) -> Playlist:
    """A playlist from `/me/playlists` or `/playlists/{id}`: id and owner id required; owner
    name, item count (under `items`, or `tracks` before 2026) and image optional."""
    data = as_object(value, "playlist")
    owner = as_object(data.get("owner"), "playlist owner")
    name = _optional_str(data, "name") or ""
    owner_name = _optional_str(owner, "display_name")
    return Playlist(
        id=_catalogue_id(data),
        name=name[:MAX_NAME],
        owner_id=required_str(owner, "id"),
        collaborative=_optional_bool(data, "collaborative") or False,
        owner_name=owner_name[:MAX_NAME] if owner_name else None,
        total=_playlist_total(data),
        image_url=_image_url(data),
    )


def _playlist_total(data: Mapping[str, Any]) -> int | None:
    items = data.get("items", data.get("tracks"))
    if not isinstance(items, Mapping):
        return None
    try:
        return _bounded_int(items, "total", (0, 10**7))
    except ParseError:
        return None


def parse_playlist_item(value: Any) -> Track | None:
    """The track of a playlist entry, or None for episodes, local files and removed tracks."""
    data = as_object(value, "playlist item")
    # 2026 renamed the key from "track" to "item"; older deployments still send "track".
    item = data.get("item", data.get("track"))
    # A track removed from Spotify stays in the playlist with a null id.
    if not isinstance(item, Mapping) or (item.get("id") is None and not _is_local(item)):
        return None
    playable = parse_playable(item)
    return playable if isinstance(playable, Track) else None


def parse_profile(value: Any) -> Profile:
    """The answer of `/me`: id required; account id and display name optional."""
    data = as_object(value, "profile")
    display_name = _optional_str(data, "display_name")
    return Profile(
        id=required_str(data, "id"),
        account_id=_optional_str(data, "account_id", 128),
        display_name=display_name[:256] if display_name else None,
    )


def parse_token_grant(value: Any) -> TokenGrant:
    """The answer of the token endpoint; a missing or absurd lifetime counts as an hour."""
    data = as_object(value, "token answer")
    try:
        expires_in = _bounded_int(data, "expires_in", TOKEN_LIFETIME_RANGE)
    except ParseError:
        expires_in = None
    return TokenGrant(
        access_token=required_str(data, "access_token"),
        expires_in=expires_in if expires_in is not None else DEFAULT_TOKEN_LIFETIME,
        scope=_optional_str(data, "scope") or "",
        refresh_token=_optional_str(data, "refresh_token") or None,
    )
