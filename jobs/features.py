"""Ordered sources of audio features: Spotify, ReccoBeats, then a local CSV dataset."""

from __future__ import annotations

import array
import asyncio
import csv
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import anyio.to_thread
import httpx

from settings import FEATURE_SOURCES, check_names
from spotify_client import EndpointUnavailable, chunks, retry_after_seconds
from spotify_models import AUDIO_FEATURE_NAMES, feature_violation

logger = logging.getLogger(__name__)

# ReccoBeats never returns time_signature; every other feature must be present.
REQUIRED_FEATURES = tuple(name for name in AUDIO_FEATURE_NAMES if name != "time_signature")
# 4/4 is by far the most common meter; the column is NOT NULL and nothing ranks on it.
DEFAULT_TIME_SIGNATURE = 4.0
# A 429 from ReccoBeats without a readable Retry-After waits this long before the one retry.
RECCOBEATS_RETRY_AFTER = 1.0
_SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")

Sleep = Callable[[float], Awaitable[None]]


class FeatureSourceError(Exception):
    """A feature source is misconfigured (e.g. the CSV file is missing or has the wrong columns)."""


class FeatureSource(Protocol):
    """Somewhere audio features come from; asked only for tracks still missing."""

    name: str

    def available(self) -> bool: ...

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]: ...


class FeatureClient(Protocol):
    """The part of `spotify_client.SpotifyClient` this module uses."""

    def can(self, capability: str) -> bool: ...

    async def audio_features(self, ids: Sequence[str]) -> Mapping[str, Any]: ...


def parse_features(raw: Mapping[str, Any]) -> dict[str, float] | None:
    """The 12 features as floats, or None when one is missing, not a number or out of range."""
    features: dict[str, float] = {}
    for name in AUDIO_FEATURE_NAMES:
        value = _number(raw.get(name))
        if value is None and name in REQUIRED_FEATURES:
            return None
        features[name] = DEFAULT_TIME_SIGNATURE if value is None else value
    # Every source keeps Spotify's contract: clustering on a 2e38 danceability is noise.
    return features if feature_violation(features) is None else None


def _number(value: Any) -> float | None:
    # bool is an int subclass; a JSON true is never a feature value.
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class SpotifyFeatureSource:
    """Spotify's own /audio-features, for extended-quota apps."""

    name = "spotify"

    def __init__(self, client: FeatureClient) -> None:
        self._client = client

    def available(self) -> bool:
        """False once Spotify has proved the endpoint closed to this app."""
        return self._client.can("audio_features")

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Features Spotify knows; empty when the endpoint is closed."""
        try:
            found = await self._client.audio_features(track_ids)
        except EndpointUnavailable:
            logger.info("Spotify audio features are closed to this app; trying the next source")
            return {}
        result: dict[str, dict[str, float]] = {}
        for track_id, item in found.items():
            features = parse_features(item.as_dict())
            if features is not None:
                result[track_id] = features
        return result


class ReccoBeatsFeatureSource:
    """ReccoBeats' free public API; best effort, so any failure just ends it for this run."""

    name = "reccobeats"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        batch_size: int = 40,
        *,
        sleep: Sleep = asyncio.sleep,
        max_retry_after: float = 60.0,
    ) -> None:
        if not 1 <= batch_size <= 40:
            raise ValueError("ReccoBeats accepts between 1 and 40 ids a call")
        self._http = http
        self._url = f"{base_url.rstrip('/')}/audio-features"
        self._batch_size = batch_size
        self._sleep = sleep
        self._max_retry_after = max_retry_after
        self._gave_up = False

    def available(self) -> bool:
        """False after ReccoBeats failed once in this run."""
        return not self._gave_up

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Features ReccoBeats knows, batch by batch, until it fails."""
        # Ids that are not Spotify ids (local files) would make the whole batch a 400.
        ids = [track_id for track_id in track_ids if _SPOTIFY_ID.fullmatch(track_id)]
        result: dict[str, dict[str, float]] = {}
        for batch in chunks(ids, self._batch_size):
            items = None if self._gave_up else await self._fetch_batch(batch)
            if items is None:
                break
            result.update(_map_items(items, set(batch)))
        return result

    async def _fetch_batch(self, batch: Sequence[str]) -> list[Any] | None:
        response = await self._get(batch)
        if response is not None and response.status_code == 429:
            delay = retry_after_seconds(response.headers, RECCOBEATS_RETRY_AFTER)
            if delay > self._max_retry_after:
                self._give_up(f"rate limited for {delay:.0f} s")
                return None
            await self._sleep(delay)
            response = await self._get(batch)
        if response is None:
            return None
        if response.status_code != 200:
            self._give_up(f"HTTP {response.status_code}")
            return None
        return self._content(response)

    async def _get(self, batch: Sequence[str]) -> httpx.Response | None:
        try:
            return await self._http.get(self._url, params={"ids": ",".join(batch)})
        except httpx.HTTPError as exc:
            self._give_up(type(exc).__name__)
            return None

    def _content(self, response: httpx.Response) -> list[Any] | None:
        try:
            body = response.json()
        except ValueError:
            self._give_up("a body that is not JSON")
            return None
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, list):
            self._give_up("a body without a content list")
            return None
        return content

    def _give_up(self, why: str) -> None:
        if not self._gave_up:
            logger.warning("ReccoBeats audio features unavailable for this run: %s", why)
        self._gave_up = True


def _map_items(items: list[Any], requested: set[str]) -> dict[str, dict[str, float]]:
    # ReccoBeats answers with its own uuids and omits unknown tracks; only href links back.
    result: dict[str, dict[str, float]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        track_id = spotify_id_from_href(item.get("href"))
        features = parse_features(item)
        if track_id in requested and features is not None:
            result.setdefault(track_id, features)
    return result


def spotify_id_from_href(href: Any) -> str | None:
    """The Spotify track id in `https://open.spotify.com/track/<id>` (or a spotify: URI)."""
    if not isinstance(href, str):
        return None
    if href.startswith("spotify:track:"):
        return href.rsplit(":", 1)[1] or None
    parts = [part for part in urlparse(href).path.split("/") if part]
    if len(parts) >= 2 and parts[-2] == "track":
        return parts[-1]
    return None


class CsvFeatureSource:
    """The Kaggle/Hugging Face "Spotify Tracks Dataset", indexed once in memory."""

    name = "csv"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._index: dict[str, array.array[float]] | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Always: a broken file is a configuration error raised at load."""
        return True

    async def load(self) -> int:
        """Index the file now (off the event loop) and return how many tracks it holds."""
        return len(await self._loaded_index())

    async def fetch(self, track_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Features of the ids present in the dataset."""
        index = await self._loaded_index()
        return {
            track_id: dict(zip(AUDIO_FEATURE_NAMES, index[track_id], strict=True))
            for track_id in track_ids
            if track_id in index
        }

    async def _loaded_index(self) -> dict[str, array.array[float]]:
        if self._index is None:
            return await anyio.to_thread.run_sync(self._ensure_index)
        return self._index

    def _ensure_index(self) -> dict[str, array.array[float]]:
        with self._lock:
            if self._index is None:
                self._index = read_feature_csv(self._path)
            return self._index


def read_feature_csv(path: Path) -> dict[str, array.array[float]]:
    """Track id -> the 12 features in AUDIO_FEATURE_NAMES order; the first row of an id wins."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            _check_columns(path, reader.fieldnames)
            index = _index_rows(reader)
    except OSError as exc:
        raise FeatureSourceError(f"cannot read audio features CSV {path}: {exc.strerror}") from exc
    logger.info("Indexed audio features of %d tracks from %s", len(index), path)
    return index


def _check_columns(path: Path, fieldnames: Sequence[str] | None) -> None:
    missing = [c for c in ("track_id", *AUDIO_FEATURE_NAMES) if c not in (fieldnames or ())]
    if missing:
        raise FeatureSourceError(
            f"audio features CSV {path} lacks column(s) {', '.join(missing)}; "
            "expected the Spotify Tracks Dataset layout"
        )


def _index_rows(rows: Iterator[dict[str, str]]) -> dict[str, array.array[float]]:
    # Compact float arrays: ~114k tracks as dicts of boxed floats would cost ~100 MB.
    index: dict[str, array.array[float]] = {}
    for row in rows:
        track_id = (row.get("track_id") or "").strip()
        if not track_id or track_id in index:
            continue
        values = {name: _number(row.get(name)) for name in AUDIO_FEATURE_NAMES}
        # A row out of Spotify's ranges (the public dataset has time_signature 0) is left out.
        if feature_violation(values) is None:  # type: ignore[arg-type]
            index[track_id] = array.array("d", values.values())  # type: ignore[arg-type]
    return index


def build_feature_sources(
    names: Sequence[str],
    *,
    client: FeatureClient | None,
    http: httpx.AsyncClient | None,
    reccobeats_url: str,
    csv_path: Path | None,
) -> list[FeatureSource]:
    """The sources to ask, in order; all configured ones when `names` is empty."""
    chosen = list(dict.fromkeys(check_names(names, FEATURE_SOURCES))) or [
        name
        for name, configured in zip(FEATURE_SOURCES, (client, http, csv_path), strict=True)
        if configured is not None
    ]
    return [_build_source(name, client, http, reccobeats_url, csv_path) for name in chosen]


def _build_source(
    name: str,
    client: FeatureClient | None,
    http: httpx.AsyncClient | None,
    reccobeats_url: str,
    csv_path: Path | None,
) -> FeatureSource:
    if name == "spotify" and client is not None:
        return SpotifyFeatureSource(client)
    if name == "reccobeats" and http is not None:
        return ReccoBeatsFeatureSource(http, reccobeats_url)
    if name == "csv" and csv_path is not None:
        return CsvFeatureSource(csv_path)
    needs = {"spotify": "a Spotify client", "reccobeats": "an HTTP client", "csv": "a CSV path"}
    raise ValueError(f"audio feature source {name!r} needs {needs[name]}")


async def collect_features(
    sources: Sequence[FeatureSource], track_ids: Sequence[str]
) -> dict[str, tuple[dict[str, float], str]]:
    """Track id -> (features, source name), asking each source only for ids still missing."""
    found: dict[str, tuple[dict[str, float], str]] = {}
    wanted = list(dict.fromkeys(track_ids))
    for source in sources:
        missing = [track_id for track_id in wanted if track_id not in found]
        if not missing:
            break
        if not source.available():
            continue
        served = await source.fetch(missing)
        hits = [track_id for track_id in missing if track_id in served]
        for track_id in hits:
            found[track_id] = (served[track_id], source.name)
        logger.info(
            "%s served audio features of %d/%d tracks", source.name, len(hits), len(missing)
        )
    return found
