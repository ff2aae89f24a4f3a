"""Spotify's extended streaming history export, generated for an emulated user.

Plays in the past that match the world: the user's favourite artists, each first heard at
some point of the span (so later years bring artists new to the earlier data), the shows
they follow, short skips, offline and incognito plays, rows whose metadata is all null and a
few exact duplicates, as real exports have. The export ends with the user's `recent` plays,
the same plays `/me/player/recently-played` answers, so an importer's de-duplication against
polled plays can be tested. Deterministic: the same arguments give the same rows.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import io
import itertools
import math
import random
import time
import zipfile
from pathlib import Path
from typing import Any

import orjson

from spotify_emulator.model import EmulatedUser
from spotify_emulator.world import World

PLAYS_PER_DAY = 41.0  # ten years come to about 150,000 entries, as a heavy listener's do
ROWS_PER_FILE = 16_000  # real files are about 12 MB each
FOLDER = "Spotify Extended Streaming History"
SKIP_MS = 30_000
MAX_YEARS = 30
MAX_ENTRIES = 2_000_000  # plays shorter than this are skips in Spotify's own counting

Row = dict[str, Any]

_PLATFORMS = ("android", "ios", "windows", "osx", "web_player", "linux")
_FIRST_REASONS = ("clickrow", "playbtn", "appload", "remote")
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 6, 5, 4, 4, 5, 5, 4, 4, 5, 6, 7, 8, 8, 7, 5, 2)
_HOUR_CUMULATIVE = list(itertools.accumulate(_HOUR_WEIGHTS))
_SHARE_EPISODES = 0.04
_SHARE_NULL = 0.004
_SHARE_DUPLICATE = 0.001
_SHARE_SKIPS = 0.15


@dataclasses.dataclass(frozen=True)
class HistoryExport:
    """One user's export: audio rows and video rows, each oldest first."""

    user_id: str
    audio: list[Row]
    video: list[Row]

    def files(self, rows_per_file: int = ROWS_PER_FILE) -> dict[str, list[Row]]:
        """File name -> rows, named and split as Spotify names and splits them."""
        files: dict[str, list[Row]] = {}
        for number, start in enumerate(range(0, len(self.audio), rows_per_file)):
            chunk = self.audio[start : start + rows_per_file]
            files[f"Streaming_History_Audio_{_years(chunk)}_{number}.json"] = chunk
        if self.video:
            files[f"Streaming_History_Video_{_years(self.video)}.json"] = self.video
        return files

    def write_files(self, directory: str | Path, rows_per_file: int = ROWS_PER_FILE) -> list[Path]:
        """Write each JSON file into `directory`; answer their paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, rows in self.files(rows_per_file).items():
            path = folder / name
            path.write_bytes(_encode(rows))
            paths.append(path)
        return paths

    def zip_bytes(self, rows_per_file: int = ROWS_PER_FILE) -> bytes:
        """The ZIP Spotify delivers (`my_spotify_data.zip`), in memory."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, rows in self.files(rows_per_file).items():
                archive.writestr(f"{FOLDER}/{name}", _encode(rows))
        return buffer.getvalue()

    def write_zip(self, path: str | Path, rows_per_file: int = ROWS_PER_FILE) -> Path:
        """Write the ZIP to `path`."""
        target = Path(path)
        target.write_bytes(self.zip_bytes(rows_per_file))
        return target


def _encode(rows: list[Row]) -> bytes:
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2)


def _years(rows: list[Row]) -> str:
    first, last = rows[0]["ts"][:4], rows[-1]["ts"][:4]
    return first if first == last else f"{first}-{last}"


def _ts(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def generate_history(
    world: World,
    user_id: str,
    *,
    years: float = 1.0,
    plays_per_day: float = PLAYS_PER_DAY,
    entries: int | None = None,
    until: dt.datetime | None = None,
) -> HistoryExport:
    """The user's export over the `years` before `until` (default: the world's now).

    `entries` fixes the number of rows (audio and video together); otherwise it is
    `years * 365 * plays_per_day`. The last rows are the user's `recent` plays.
    """
    if not (0 < years <= MAX_YEARS and 0 < plays_per_day <= 1_000):
        raise ValueError(f"years must be in (0, {MAX_YEARS}] and plays_per_day in (0, 1000]")
    count = entries if entries is not None else max(1, round(years * 365 * plays_per_day))
    if not 1 <= count <= MAX_ENTRIES:
        raise ValueError(f"an export holds between 1 and {MAX_ENTRIES} entries")
    user = world.user(user_id)
    end = until or world.now
    return _Generator(world, user, end - dt.timedelta(days=365 * years), end, count).run()


class _Generator:
    """Builds one export; every draw comes from one seeded stream. Times are epoch seconds."""

    def __init__(
        self, world: World, user: EmulatedUser, start: dt.datetime, end: dt.datetime, count: int
    ) -> None:
        self.world, self.user, self.count = world, user, count
        self.start, self.end = start.timestamp(), end.timestamp()
        self.rng = random.Random(f"history:{world.seed}:{user.id}:{start.isoformat()}:{count}")
        self.index = world.users.index(user)
        self.platforms = self.rng.sample(_PLATFORMS, 2)
        self.audio: list[Row] = []
        self.video: list[Row] = []

    def run(self) -> HistoryExport:
        tail = [
            (t, at.timestamp())
            for t, at in reversed(self.user.recent)
            if self.start < at.timestamp() <= self.end
        ][-self.count :]
        generated_end = tail[0][1] - 3600 if tail else self.end
        self._prepare_taste(generated_end)
        self._sessions(self.count - len(tail), generated_end)
        for track_id, played_at in tail:
            duration = self.world.tracks[track_id].duration_ms
            start = played_at - duration / 1000
            self.audio.append(self._track_row(track_id, start, duration, "trackdone", "trackdone"))
        return HistoryExport(self.user.id, self.audio, self.video)

    def _prepare_taste(self, generated_end: float) -> None:
        # Three in ten favourites are known from the start; the others are first heard at
        # a moment spread over the span, so every later stretch holds discoveries.
        span = max(1.0, generated_end - self.start)
        heard = {
            artist: 0.0 if self.rng.random() < 0.3 else self.rng.random() * span
            for artist in sorted(self.user.favourites)
        }
        self.artists = sorted(heard, key=lambda a: (heard[a], a))
        self.first_heard = [heard[a] for a in self.artists]
        self.cumulative = list(
            itertools.accumulate(self.user.favourites[a] + 0.2 for a in self.artists)
        )
        known = self.user.known_track_ids
        self.catalogues = {a: self.world.tracks_of_artist(a) for a in self.artists}
        self.own_tracks = {a: [t for t in self.catalogues[a] if t in known] for a in self.artists}

    def _sessions(self, plays: int, generated_end: float) -> None:
        if plays <= 0:
            return
        span_days = max(1, int((generated_end - self.start) // 86_400))
        lengths = [self.rng.randint(3, 13) for _ in range(math.ceil(plays / 8))]
        self._fit(lengths, plays)
        midnight = self.start - self.start % 86_400
        starts = sorted(self._session_start(midnight, span_days) for _ in lengths)
        cursor = self.start
        for start, length in zip(starts, lengths, strict=True):
            cursor = self._session(max(start, cursor), length)

    def _fit(self, lengths: list[int], total: int) -> None:
        difference = total - sum(lengths)
        while difference:
            index = self.rng.randrange(len(lengths))
            step = 1 if difference > 0 else -1
            if lengths[index] + step >= 1:
                lengths[index] += step
                difference -= step

    def _session_start(self, midnight: float, span_days: int) -> float:
        hour = self.rng.choices(range(24), cum_weights=_HOUR_CUMULATIVE)[0]
        return (
            midnight
            + self.rng.randrange(span_days) * 86_400
            + hour * 3600
            + self.rng.random() * 3600
        )

    def _session(self, cursor: float, length: int) -> float:
        shuffle = self.rng.random() < 0.4
        reason_start = self.rng.choice(_FIRST_REASONS)
        for _ in range(length):
            row, video, seconds = self._play(cursor, reason_start)
            row["shuffle"] = shuffle
            (self.video if video else self.audio).append(row)
            if self.rng.random() < _SHARE_DUPLICATE:
                self.audio.append(dict(row))
            # The next play starts as this one ends (reason_start "trackdone", "fwdbtn").
            reason_start = row["reason_end"] if row["reason_end"] != "endplay" else "clickrow"
            cursor += seconds + self.rng.randint(0, 3)
        return cursor

    def _play(self, start: float, reason_start: str) -> tuple[Row, bool, float]:
        draw = self.rng.random()
        if draw < _SHARE_NULL:
            ms_played = self.rng.randint(1_000, 240_000)
            return self._row(start, ms_played, reason_start, "trackdone"), False, ms_played / 1000
        if draw < _SHARE_NULL + _SHARE_EPISODES and self.user.show_ids:
            return self._episode_row(start, reason_start)
        track_id = self._track_at(start)
        duration = self.world.tracks[track_id].duration_ms
        if self.rng.random() < _SHARE_SKIPS:
            ms_played, reason_end = self.rng.randint(500, SKIP_MS - 1), "fwdbtn"
        else:
            ms_played, reason_end = duration, "trackdone"
        row = self._track_row(track_id, start, ms_played, reason_start, reason_end)
        return row, False, ms_played / 1000

    def _track_at(self, moment: float) -> str:
        known = max(1, bisect.bisect_right(self.first_heard, moment - self.start))
        pick = self.rng.random() * self.cumulative[known - 1]
        artist = self.artists[min(known - 1, bisect.bisect_left(self.cumulative, pick))]
        own = self.own_tracks[artist]
        if own and self.rng.random() < 0.7:
            return self.rng.choice(own)
        return self.rng.choice(self.catalogues[artist])

    def _track_row(
        self, track_id: str, start: float, ms_played: int, reason_start: str, reason_end: str
    ) -> Row:
        track = self.world.tracks[track_id]
        album = self.world.albums[track.album_id]
        row = self._row(start, ms_played, reason_start, reason_end)
        row["master_metadata_track_name"] = track.name
        row["master_metadata_album_artist_name"] = self.world.artists[album.artist_ids[0]].name
        row["master_metadata_album_album_name"] = album.name
        row["spotify_track_uri"] = f"spotify:track:{track_id}"
        return row

    def _episode_row(self, start: float, reason_start: str) -> tuple[Row, bool, float]:
        show = self.world.shows[self.rng.choice(self.user.show_ids)]
        episode = self.world.episodes[self.rng.choice(show.episode_ids)]
        ms_played = int(episode.duration_ms * self.rng.uniform(0.2, 1.0))
        reason_end = "trackdone" if ms_played > 0.95 * episode.duration_ms else "endplay"
        row = self._row(start, ms_played, reason_start, reason_end)
        row["episode_name"] = episode.name
        row["episode_show_name"] = show.name
        row["spotify_episode_uri"] = f"spotify:episode:{episode.id}"
        return row, show.media_type == "video", ms_played / 1000

    def _row(self, start: float, ms_played: int, reason_start: str, reason_end: str) -> Row:
        offline = self.rng.random() < 0.03
        return {
            "ts": _ts(start + ms_played / 1000),
            "platform": self.platforms[0] if self.rng.random() < 0.8 else self.platforms[1],
            "ms_played": ms_played,
            "conn_country": "FR" if self.rng.random() < 0.02 else self.user.country,
            "ip_addr": f"198.51.100.{self.index % 250 + 1}",
            "master_metadata_track_name": None,
            "master_metadata_album_artist_name": None,
            "master_metadata_album_album_name": None,
            "spotify_track_uri": None,
            "episode_name": None,
            "episode_show_name": None,
            "spotify_episode_uri": None,
            "audiobook_title": None,
            "audiobook_uri": None,
            "audiobook_chapter_uri": None,
            "audiobook_chapter_title": None,
            "reason_start": reason_start,
            "reason_end": reason_end,
            "shuffle": False,
            "skipped": reason_end == "fwdbtn",
            "offline": offline,
            "offline_timestamp": int(start) if offline else None,
            "incognito_mode": self.rng.random() < 0.01,
        }
