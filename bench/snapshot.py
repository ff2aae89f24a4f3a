"""snapshot: a night of N users against a rate-limited Spotify, measured against its floor.

Each size runs in a child process of its own (`python -m bench.snapshot --child N ...`) so
its peak RSS is that of one service process snapshotting N users, and the emulator runs in
a grandchild (`python -m spotify_emulator --users N`) so its world is not counted. The
child registers every user, takes a cold night (empty catalogue) and then a warm one (the
next date), and reads the emulator's request log after each.

The rate-limit floor of a night is the Spotify calls it made divided by the rate the
emulator allows (`rate_limit / window`): no client can finish sooner, except for the first
window, which a fresh app may spend at once.

Usage: `python -m bench.snapshot --users 20,100 [--rate-limit 180] [--window 30]
[--latency 0.05] [--omit-retry-after]`; `python -m bench snapshot` runs the issue's full
sizes (100 and 1,000 users at 180 requests per 30 s: hours of wall time).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.measure import Report, Target, peak_rss_mb

NAME = "snapshot"
COLD = dt.date(2026, 11, 20)
WARM = COLD + dt.timedelta(days=1)
MAX_WARM_CALLS = 10.0
# Peak RSS at the smallest size over that at the largest: "flat" as users grow.
MIN_RSS_FLATNESS = 0.8
# The user's own calls: listening, and what Spotify computes for the user when the app may.
OWN_PREFIXES = ("/v1/me/", "/v1/recommendations", "/v1/audio-features")
BANNER = re.compile(r" at (http://127\.0\.0\.1:\d+)$")


@dataclasses.dataclass(frozen=True)
class Params:
    users: tuple[int, ...] = (100, 1000)
    rate_limit: int = 180
    window: float = 30.0
    latency: float = 0.05
    omit_retry_after: bool = False
    # RECOMMENDATION_SOURCES for the run. The targets are about the listening calls;
    # the sources that call Spotify per known artist (artists, collaborators, search) add 65 to
    # 105 calls a cold user, hours a 1,000-user night, and `bench recommend` measures them.
    # Empty: every source, as a default install has.
    sources: str = "csv,co-listeners,reccobeats"


TINY = Params(users=(1, 2), rate_limit=60, window=1.0, latency=0.0, sources="csv")


@dataclasses.dataclass(frozen=True)
class Night:
    """What one night cost: Spotify's view (the request log) and the service's."""

    wall: float
    own_calls: int
    discovery_calls: int
    token_calls: int
    refused: int
    early: int
    violations: int
    ok: int
    failed: int
    rate_limited: int
    pace: float | None

    def floor(self, params: Params) -> float:
        """Seconds the accepted Web API calls take at the allowed rate."""
        return (self.own_calls + self.discovery_calls) / (params.rate_limit / params.window)


# -- the child: one size ----------------------------------------------------------------


def _start_emulator(
    users: int, params: Params, folder: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    faults = {
        "latency": params.latency,
        "rate_limit": params.rate_limit,
        "rate_limit_window": params.window,
        "omit_retry_after": params.omit_retry_after,
        "rotate_refresh_every": 0,
    }
    banner = folder / "emulator.txt"
    command = [sys.executable, "-m", "spotify_emulator", "--port", "0", "--users", str(users)]
    command += ["--faults", json.dumps(faults), "--features-csv", str(folder / "features.csv")]
    with banner.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    return process, banner


def _read_banner(
    banner: Path, users: int, process: subprocess.Popen[bytes]
) -> tuple[str, str, str, dict[str, str]]:
    """The emulator's base URL, app credentials and each user's refresh token."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        lines = banner.read_text(errors="replace").splitlines()
        tokens = [line.split() for line in lines if line.startswith("    ")]
        if len(tokens) >= users:
            found = {k.split("=", 1)[0].strip(): k.split("=", 1)[1] for k in lines if "=" in k}
            base = next(m.group(1) for line in lines if (m := BANNER.search(line)))
            refresh = {parts[0]: parts[-1] for parts in tokens}
            return base, found["SPOTIFY_CLIENT_ID"], found["SPOTIFY_CLIENT_SECRET"], refresh
        if process.poll() is not None:
            raise RuntimeError(f"the emulator stopped:\n{banner.read_text(errors='replace')}")
        time.sleep(0.2)
    raise RuntimeError("the emulator did not start within 300 s")


def _environment(base: str, client_id: str, secret: str, folder: Path, params: Params) -> None:
    from db.token_cipher import generate_key

    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder / 'insight.db'}",
        SPOTIFY_CLIENT_ID=client_id,
        SPOTIFY_CLIENT_SECRET=secret,
        SPOTIFY_API_URL=f"{base}/v1",
        SPOTIFY_ACCOUNTS_URL=f"{base}/accounts",
        RECCOBEATS_URL=f"{base}/reccobeats/v1",
        TOKEN_ENCRYPTION_KEY=generate_key(),
        AUDIO_FEATURES_SOURCES="csv",
        AUDIO_FEATURES_CSV=str(folder / "features.csv"),
        SPOTIFY_RATE_WINDOW=str(params.window),
        RECOMMENDATION_SOURCES=params.sources,
        LOG_LEVEL="ERROR",
    )


def _register(refresh: dict[str, str]) -> None:
    from application import open_database, token_cipher
    from db.migrations import migrate
    from db.users import save_user_token
    from settings import Settings

    settings = Settings.from_environment(env_file=None)
    database = open_database(settings, for_migration=True)
    cipher = token_cipher(settings)
    try:
        database.run_sync(migrate, database.peewee)
        for username, token in refresh.items():
            database.run_sync(save_user_token, username, cipher.encrypt(token))
    finally:
        database.close()


def _log(base: str, clear: bool) -> list[dict[str, Any]]:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        records = http.get("/_emulator/requests").json()["requests"]
        if clear:
            http.delete("/_emulator/requests")
    return list(records)


class WireLog:
    """The client's side of the wire: when each request left, when each 429 came back.

    The emulator flags a request that arrives after a 429 was sent; with several requests
    in flight, some of those left before their client could have read it. A violation is
    judged here instead: a Web API request sent after a 429 was received, before the wait
    it announced was over.
    """

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.announced: list[tuple[float, float]] = []

    async def on_request(self, request: Any) -> None:
        if request.url.path.startswith("/v1/"):
            self.sent.append(time.monotonic())

    async def on_response(self, response: Any) -> None:
        value = response.headers.get("Retry-After")
        if response.status_code == 429 and response.url.path.startswith("/v1/") and value:
            # Read only once the body is in: the client cannot act on a 429 sooner, and from
            # here to its gate closing, no other task runs.
            await response.aread()
            received = time.monotonic()
            self.announced.append((received, received + float(value)))

    def violations(self) -> int:
        return sum(
            1 for sent in self.sent if any(start < sent < end for start, end in self.announced)
        )


def _logged_http_client(wire: WireLog) -> Any:
    from spotify_client import create_http_client

    def create(timeout: float) -> Any:
        http = create_http_client(timeout)
        http.event_hooks = {"request": [wire.on_request], "response": [wire.on_response]}
        return http

    return create


async def _night(date: dt.date, wire: WireLog) -> tuple[float, Any, float | None]:
    import application
    from settings import Settings

    application.create_http_client = _logged_http_client(wire)
    settings = Settings.from_environment(env_file=None)
    async with application.open_resources(settings) as resources:
        start = time.perf_counter()
        summary = await resources.snapshots.run(date, trigger="cli")
        return time.perf_counter() - start, summary, resources.spotify.pace


def _tally(
    wall: float, summary: Any, pace: float | None, records: list[dict[str, Any]], wire: WireLog
) -> Night:
    api = [r for r in records if r["path"].startswith("/v1/")]
    accepted = [r for r in api if r["status"] != 429]
    own = sum(1 for r in accepted if r["path"].startswith(OWN_PREFIXES))
    return Night(
        wall=wall,
        own_calls=own,
        discovery_calls=len(accepted) - own,
        token_calls=sum(1 for r in records if r["path"].startswith("/accounts/")),
        refused=len(api) - len(accepted),
        early=sum(1 for r in records if r["early"]),
        violations=wire.violations(),
        ok=len(summary.ok),
        failed=len(summary.failed),
        rate_limited=len(summary.rate_limited),
        pace=pace,
    )


def _child(users: int, params: Params) -> dict[str, Any]:
    import asyncio

    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        folder = Path(tmp)
        process, banner = _start_emulator(users, params, folder)
        try:
            base, client_id, secret, refresh = _read_banner(banner, users, process)
            _environment(base, client_id, secret, folder, params)
            _register(refresh)
            _log(base, clear=True)
            nights = {}
            for label, date in (("cold", COLD), ("warm", WARM)):
                wire = WireLog()
                wall, summary, pace = asyncio.run(_night(date, wire))
                night = _tally(wall, summary, pace, _log(base, True), wire)
                nights[label] = dataclasses.asdict(night)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"users": users, "rss_mb": peak_rss_mb(), "nights": nights}


# -- the parent: every size, the table and the targets ---------------------------------


def _run_size(users: int, params: Params) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.snapshot", "--child", str(users)]
    command += _flags(params)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench snapshot for {users} users failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _flags(params: Params) -> list[str]:
    flags = ["--rate-limit", str(params.rate_limit), "--window", str(params.window)]
    flags += ["--latency", str(params.latency), "--sources", params.sources]
    return flags + (["--omit-retry-after"] if params.omit_retry_after else [])


def _row(users: int, label: str, night: Night, params: Params, rss_mb: float) -> tuple[str, ...]:
    floor = night.floor(params)
    return (
        f"{users} / {label}",
        f"{night.own_calls / users:.1f}",
        f"{night.discovery_calls / users:.1f}",
        f"{night.wall:.1f}",
        f"{floor:.1f}",
        f"{night.wall / floor:.2f}" if floor else "-",
        str(night.refused),
        str(night.violations),
        str(night.early),
        str(users - night.ok),
        f"{night.pace:.2f}" if night.pace else "-",
        f"{rss_mb:.0f}",
    )


def run(params: Params = Params()) -> Report:
    """Every size in its own process; the table, and a target for each promise."""
    report = Report(
        NAME,
        f"nightly snapshots at {params.rate_limit} requests / {params.window:g} s, "
        f"{params.latency * 1000:.0f} ms latency"
        + (", 429s without Retry-After" if params.omit_retry_after else "")
        + (f", recommendation sources {params.sources}" if params.sources else ""),
        (
            "users / night",
            "own calls/user",
            "discovery/user",
            "wall s",
            "floor s",
            "wall/floor",
            "429s",
            "violations",
            "arrived early",
            "lost",
            "pace req/s",
            "RSS MB",
        ),
    )
    results = [_run_size(users, params) for users in params.users]
    for result in results:
        users = result["users"]
        for label, raw in result["nights"].items():
            night = Night(**raw)
            report.rows.append(_row(users, label, night, params, result["rss_mb"]))
            _targets(report, users, label, night, params)
    _rss_flatness(report, results)
    report.notes.append(
        "floor = accepted Web API calls / allowed rate; own calls are /me/*, "
        "/recommendations and /audio-features, discovery the recommender's other calls"
    )
    report.notes.append(
        "violations: requests the client sent after reading a 429 and before its Retry-After "
        "was over; arrived early: the emulator's count, which includes requests already on "
        "their way when the 429 left"
    )
    return report


def _rss_flatness(report: Report, results: list[dict[str, Any]]) -> None:
    """The smallest size's peak RSS against the largest's, both measured in this run."""
    sizes = sorted(results, key=lambda result: result["users"])
    smallest, largest = sizes[0], sizes[-1]
    if smallest["users"] == largest["users"]:
        report.notes.append(
            f"RSS flatness not checked: only one size ({largest['users']} users) was run; "
            "it needs two sizes in the same run (e.g. --users 100,1000)"
        )
        return
    grown_kb = (largest["rss_mb"] - smallest["rss_mb"]) * 1024
    per_user_kb = grown_kb / (largest["users"] - smallest["users"])
    report.targets.append(
        Target(
            f"RSS at {smallest['users']} users / RSS at {largest['users']} users, same run "
            f"(flat; {per_user_kb:+.0f} kB per added user)",
            smallest["rss_mb"] / largest["rss_mb"],
            MIN_RSS_FLATNESS,
        )
    )


def _targets(report: Report, users: int, label: str, night: Night, params: Params) -> None:
    where = f"{users} users, {label}"
    floor = night.floor(params)
    report.targets.append(Target(f"floor / wall ({where})", floor / night.wall, 1 / 1.1))
    honoured = float(night.violations == 0)
    report.targets.append(
        Target(f"Retry-After honoured ({where}: {night.violations} violations)", honoured, 1)
    )
    report.targets.append(
        Target(f"users kept ({where}: {users - night.ok} lost)", night.ok / users, 1.0)
    )
    if label == "warm":
        per_user = night.own_calls / users
        report.targets.append(
            Target(
                f"10 / own calls per user ({where}: {per_user:.1f})", MAX_WARM_CALLS / per_user, 1.0
            )
        )


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot", description=__doc__)
    parser.add_argument("--users", default="100,1000", help="comma list of sizes")
    parser.add_argument("--rate-limit", type=int, default=Params.rate_limit)
    parser.add_argument("--window", type=float, default=Params.window)
    parser.add_argument("--latency", type=float, default=Params.latency)
    parser.add_argument("--omit-retry-after", action="store_true")
    parser.add_argument(
        "--sources",
        default=Params.sources,
        help=f"RECOMMENDATION_SOURCES (default: {Params.sources}; '' for every source)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    params = Params(
        users=tuple(int(n) for n in args.users.split(",") if n.strip()),
        rate_limit=args.rate_limit,
        window=args.window,
        latency=args.latency,
        omit_retry_after=args.omit_retry_after,
        sources=args.sources,
    )
    if args.child is not None:
        print(json.dumps(_child(args.child, params)), flush=True)
        return 0
    report = run(params)
    print(report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
