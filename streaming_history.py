"""Spotify's extended streaming history export: its files, and each entry as a typed play.

The files come from outside (a user's download), so every field is checked: a file with
one malformed entry is refused whole, with a line naming the file and the entry. Entries
that are well formed but hold nothing this service keeps (local files, audiobooks,
unavailable content) are skipped with a reason, and so are plays at a time no play can have
(before Spotify existed, or in the future: a device's clock was wrong), by the same rule as
plays read from Spotify's API. `ip_addr` and `platform` are never read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from spotify_models import PLAUSIBLE_AHEAD, PLAUSIBLE_SINCE

EXPORT_NAME = re.compile(r"(?:.*/)?Streaming_History_(?:Audio|Video)_[^/]*\.json")
URI = re.compile(r"spotify:(track|episode):([0-9A-Za-z]{1,64})")
NAME_LIMIT = 512
TRACK_FIELDS = (
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
)
EPISODE_FIELDS = ("episode_name", "episode_show_name", "spotify_episode_uri")
AUDIOBOOK_FIELDS = ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri")

NOTHING_KEPT = "no track or episode (a local file or unavailable content)"
AUDIOBOOK = "an audiobook"
NO_NAME = "a track or episode without a name"
TOO_EARLY = f"played before {PLAUSIBLE_SINCE:%Y-%m-%d}, before Spotify existed"
IN_THE_FUTURE = "played in the future (more than a day from now)"


class MalformedExport(ValueError):
    """A file that is not an extended streaming history, or an entry that breaks its format."""


@dataclasses.dataclass(frozen=True, slots=True)
class ExportedPlay:
    """One play of the export: a track (music) or an episode (podcast), by Spotify id."""

    kind: str  # "track" or "episode"
    item_id: str
    ended_at: dt.datetime  # naive UTC, as the databases store it
    ms_played: int | None  # None only in this service's own export of polled plays
    name: str
    # Music: the album artist and album; podcasts: the show (and no album).
    artist_or_show: str | None
    album: str | None

    @property
    def key(self) -> tuple[str, str, dt.datetime]:
        """What makes two rows the same play: the item and the second it ended."""
        return (self.kind, self.item_id, self.ended_at)


@dataclasses.dataclass(frozen=True, slots=True)
class Skipped:
    """A well-formed entry with nothing to keep."""

    reason: str


@dataclasses.dataclass(frozen=True)
class ExportFile:
    """One file of plays: its name for messages, and its bytes."""

    name: str
    content: bytes


def _text(entry: Mapping[str, Any], field: str) -> str | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedExport(f"{field} must be text or null, not {type(value).__name__}")
    # PostgreSQL refuses NUL in text, as spotify_models' names lose it for the same reason.
    return value.replace("\x00", "")[:NAME_LIMIT] or None


def _ended_at(entry: Mapping[str, Any]) -> dt.datetime:
    raw = entry.get("ts")
    if raw is None and "endTime" in entry:
        raise MalformedExport(
            "no 'ts': this is the short 'Account data' history, which has no Spotify ids; "
            "request the 'Extended streaming history' instead"
        )
    if not isinstance(raw, str):
        raise MalformedExport(f"ts must be an ISO 8601 time, not {raw!r:.40}")
    try:
        moment = dt.datetime.fromisoformat(raw)
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise MalformedExport(f"ts must be an ISO 8601 time, not {raw!r:.40}") from None
    return moment


def _ms_played(entry: Mapping[str, Any]) -> int | None:
    value = entry.get("ms_played")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise MalformedExport(
            f"ms_played must be a whole number of milliseconds, not {value!r:.40}"
        )
    return value


def _item(entry: Mapping[str, Any], field: str, kind: str) -> str | None:
    uri = _text(entry, field)
    if uri is None:
        return None
    if uri.startswith("spotify:local:"):
        return None
    match = URI.fullmatch(uri)
    if match is None or match.group(1) != kind:
        raise MalformedExport(f"{field} must be a spotify:{kind}: URI, not {uri!r:.60}")
    return match.group(2)


def _implausible(ended_at: dt.datetime, now: dt.datetime | None) -> Skipped | None:
    """Why no play can have ended at `ended_at` (naive UTC), or None when one can."""
    moment = ended_at.replace(tzinfo=dt.UTC)
    if moment < PLAUSIBLE_SINCE:
        return Skipped(TOO_EARLY)
    if moment > (now or dt.datetime.now(dt.UTC)) + PLAUSIBLE_AHEAD:
        return Skipped(IN_THE_FUTURE)
    return None


def parse_entry(entry: Any, now: dt.datetime | None = None) -> ExportedPlay | Skipped:
    """One entry of the export's array; raises MalformedExport when it breaks the format.

    A play is judged plausible against `now` (aware; the clock when None)."""
    parsed = _parse_entry(entry)
    if isinstance(parsed, ExportedPlay):
        return _implausible(parsed.ended_at, now) or parsed
    return parsed


def _parse_entry(entry: Any) -> ExportedPlay | Skipped:
    if not isinstance(entry, Mapping):
        raise MalformedExport(f"an entry must be an object, not {type(entry).__name__}")
    ended_at = _ended_at(entry)
    ms_played = _ms_played(entry)
    track_name, artist, album = (_text(entry, f) for f in TRACK_FIELDS[:3])
    episode_name, show = (_text(entry, f) for f in EPISODE_FIELDS[:2])
    track_id = _item(entry, "spotify_track_uri", "track")
    episode_id = _item(entry, "spotify_episode_uri", "episode")
    if track_id is not None:
        if track_name is None:
            return Skipped(NO_NAME)
        return ExportedPlay("track", track_id, ended_at, ms_played, track_name, artist, album)
    if episode_id is not None:
        if episode_name is None:
            return Skipped(NO_NAME)
        return ExportedPlay("episode", episode_id, ended_at, ms_played, episode_name, show, None)
    if any(_text(entry, field) for field in AUDIOBOOK_FIELDS):
        return Skipped(AUDIOBOOK)
    return Skipped(NOTHING_KEPT)


def parse_file(export: ExportFile, now: dt.datetime | None = None) -> list[ExportedPlay | Skipped]:
    """Every entry of one file, in order; MalformedExport names the file and the entry."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        entries = orjson.loads(export.content)
    except orjson.JSONDecodeError as exc:
        raise MalformedExport(f"{export.name}: not valid JSON ({exc})") from None
    if not isinstance(entries, list):
        raise MalformedExport(f"{export.name}: not a streaming history (expected a JSON array)")
    parsed: list[ExportedPlay | Skipped] = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(parse_entry(entry, now))
        except MalformedExport as exc:
            raise MalformedExport(f"{export.name}: entry {index}: {exc}") from None
    return parsed


def _zip_members(path: Path) -> Iterator[ExportFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if EXPORT_NAME.fullmatch(n))
            if not names:
                raise MalformedExport(f"{path}: holds no Streaming_History_Audio/Video_*.json")
            for name in names:
                yield ExportFile(f"{path}:{name}", archive.read(name))
    except (zipfile.BadZipFile, OSError) as exc:
        raise MalformedExport(f"{path}: cannot read it as a ZIP ({exc})") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MalformedExport(f"{path}: cannot read it ({exc.strerror or exc})") from None


def export_files(paths: Sequence[Path]) -> Iterator[ExportFile]:
    """The export's JSON files among `paths`: files, ZIPs as Spotify sends them, directories."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if EXPORT_NAME.fullmatch(p.name))
            if not found:
                raise MalformedExport(f"{path}: holds no Streaming_History_Audio/Video_*.json")
            for member in found:
                yield ExportFile(str(member), _read(member))
        elif path.suffix.lower() == ".zip":
            yield from _zip_members(path)
        else:
            yield ExportFile(str(path), _read(path))


CSV_HEADER = (
    "played_at",
    "ms_played",
    "track",
    "artist",
    "album",
    "track_uri",
    "episode",
    "show",
    "episode_uri",
)


def iso_ts(moment: dt.datetime) -> str:
    """A naive UTC time as the export writes `ts` (with milliseconds only when it has them)."""
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text + "Z"


def export_entry(play: ExportedPlay) -> dict[str, Any]:
    """`play` as an entry of the extended streaming history, so it can be imported again."""
    track = play.kind == "track"
    return {
        "ts": iso_ts(play.ended_at),
        "ms_played": play.ms_played,
        "master_metadata_track_name": play.name if track else None,
        "master_metadata_album_artist_name": play.artist_or_show if track else None,
        "master_metadata_album_album_name": play.album if track else None,
        "spotify_track_uri": f"spotify:track:{play.item_id}" if track else None,
        "episode_name": None if track else play.name,
        "episode_show_name": None if track else play.artist_or_show,
        "spotify_episode_uri": None if track else f"spotify:episode:{play.item_id}",
    }


def csv_row(play: ExportedPlay) -> tuple[str | int | None, ...]:
    """`play` as one row under CSV_HEADER."""
    entry = export_entry(play)
    return (
        entry["ts"],
        play.ms_played,
        entry["master_metadata_track_name"],
        entry["master_metadata_album_artist_name"],
        entry["master_metadata_album_album_name"],
        entry["spotify_track_uri"],
        entry["episode_name"],
        entry["episode_show_name"],
        entry["spotify_episode_uri"],
    )
