"""artist-profile: an artist profile served from the catalogue, against its first fetch.

The first request for an artist asks Spotify for the artist, their albums (ten a page, the
2026 cap) and every album's tracks, and the feature sources for the tracks' features; every
request within the week after reads the catalogue only. Timed in-process through the ASGI
interface against the emulator in development mode, each of its answers delayed by `latency`
(Spotify is tens of milliseconds away; the emulator on loopback is not).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from starlette.datastructures import Secret

from application import build_app
from bench.asgi import AsgiCaller, running
from bench.dataset import KINDS, postgres_unavailable
from bench.dataset import scratch_url as scratch_database
from bench.measure import Report, Target, ms, per_call_seconds_async
from db.database import Database
from db.migrations import migrate
from settings import Settings
from spotify_emulator import EmulatorServer, Faults, World, write_features_csv

NAME = "artist-profile"
TARGET = 5.0  # served from the catalogue at least five times faster than the first fetch


@dataclasses.dataclass(frozen=True)
class Params:
    kinds: tuple[str, ...] = KINDS
    latency: float = 0.03
    artists: int = 4
    calls: int = 10
    rounds: int = 3


TINY = Params(kinds=("sqlite",), latency=0.0, artists=1, calls=2, rounds=1)


class ProfileError(RuntimeError):
    """The profile endpoint did not answer 200."""


async def _profile(caller: AsgiCaller, artist_id: str) -> None:
    status, _, body = await caller.get(f"/artists/{artist_id}/profile")
    if status != 200:
        raise ProfileError(f"profile of {artist_id} answered {status}: {body[:200]!r}")


def _busiest(world: World, count: int) -> list[str]:
    ranked = sorted(world.artists.values(), key=lambda a: (-len(a.album_ids), a.id))
    return [artist.id for artist in ranked[:count]]


def _settings(url: str, server: EmulatorServer, world: World, csv: Path) -> Settings:
    return dataclasses.replace(
        Settings.from_environment(env_file=None),
        database_url=url,
        spotify_client_id=world.client_id,
        spotify_client_secret=Secret(world.client_secret),
        spotify_api_url=server.api_url,
        spotify_accounts_url=server.accounts_url,
        reccobeats_url=server.reccobeats_url,
        audio_features_sources=("spotify", "reccobeats", "csv"),
        audio_features_csv=csv,
        api_keys=(),
    )


async def _measure(
    settings: Settings, artist_ids: list[str], params: Params
) -> tuple[float, float]:
    async with running(build_app(settings)) as caller:
        first = []
        for artist_id in artist_ids:
            start = time.perf_counter()
            await _profile(caller, artist_id)
            first.append(time.perf_counter() - start)
        cached = await per_call_seconds_async(
            lambda: _profile(caller, artist_ids[0]), params.calls, params.rounds
        )
    return statistics.median(first), cached


def _measure_kind(
    kind: str, directory: Path, world: World, params: Params
) -> tuple[float, float, int]:
    csv = directory / "tracks.csv"
    if not csv.exists():
        write_features_csv(world, csv)
    artist_ids = _busiest(world, params.artists)
    with scratch_database(kind, directory) as url:
        database = Database(url, pool_size=2, create=True)
        try:
            database.run_sync(migrate, database.peewee)
        finally:
            database.close()
        with EmulatorServer(world, "development", Faults(latency=params.latency)) as server:
            settings = _settings(url, server, world, csv)
            first, cached = asyncio.run(_measure(settings, artist_ids, params))
            asked = sum(1 for r in server.requests if r.path.startswith("/v1/"))
    return first, cached, asked // len(artist_ids)


def run(params: Params = Params()) -> Report:
    """Time first fetches and catalogue reads of artist profiles on each database."""
    report = Report(
        NAME,
        f"GET /artists/{{id}}/profile of the {params.artists} artists with most albums, against "
        f"the emulator (development mode, {params.latency * 1000:.0f} ms a Spotify answer): "
        f"median first fetch, and median of {params.rounds} rounds of {params.calls} later calls",
        ("database", "first fetch ms", "from catalogue ms", "Spotify requests per first fetch"),
    )
    world = World.generate(seed=7)
    with tempfile.TemporaryDirectory(prefix="bench-artist-") as tmp:
        for kind in params.kinds:
            reason = postgres_unavailable() if kind == "postgresql" else None
            if reason:
                report.notes.append(f"postgresql skipped: {reason}")
                continue
            first, cached, asked = _measure_kind(kind, Path(tmp), world, params)
            report.rows.append((kind, ms(first), ms(cached), str(asked)))
            report.targets.append(
                Target(f"{kind}: first fetch / served from the catalogue", first / cached, TARGET)
            )
    return report
