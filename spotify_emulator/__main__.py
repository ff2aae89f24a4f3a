"""`python -m spotify_emulator`: run the emulator in the foreground and print how to use it."""

from __future__ import annotations

import argparse
import json
import socket
import sys

import uvicorn

from spotify_emulator.app import create_app
from spotify_emulator.csv_export import write_features_csv
from spotify_emulator.faults import Faults
from spotify_emulator.objects import MODES
from spotify_emulator.world import World


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spotify_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--mode", choices=MODES, default="development")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=6, help="listeners in the world")
    parser.add_argument("--faults", default="{}", help="JSON object of Faults settings")
    parser.add_argument("--features-csv", help="also write every track's features to this CSV")
    parser.add_argument(
        "--pick-user",
        action="store_true",
        help="the consent page asks which emulated user is signing in",
    )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="users' top lists and plays drift with the clock's date (spotify_emulator/drift.py)",
    )
    return parser.parse_args(argv)


def _banner(world: World, base: str, mode: str) -> str:
    lines = [
        f"Spotify emulator ({mode} mode, seed {world.seed}) at {base}",
        f"  SPOTIFY_API_URL={base}/v1",
        f"  SPOTIFY_ACCOUNTS_URL={base}/accounts",
        f"  RECCOBEATS_URL={base}/reccobeats/v1",
        f"  SPOTIFY_CLIENT_ID={world.client_id}",
        f"  SPOTIFY_CLIENT_SECRET={world.client_secret}",
        f"  controls: {base}/_emulator/faults, {base}/_emulator/requests",
        "  users (id, display name, refresh token):",
    ]
    lines += [f"    {u.id}  {u.display_name}  {u.refresh_token}" for u in world.users]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted."""
    args = _arguments(argv)
    try:
        faults = Faults.from_json(json.loads(args.faults))
    except (ValueError, TypeError) as exc:
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    if args.users < 1:
        print("error: --users must be at least 1", file=sys.stderr)
        return 2
    world = World.generate(seed=args.seed, users=args.users)
    if args.features_csv:
        rows = write_features_csv(world, args.features_csv)
        print(f"wrote {rows} tracks' features to {args.features_csv}")
    _serve(world, args, faults)
    return 0


def _serve(world: World, args: argparse.Namespace, faults: Faults) -> None:
    # Bind first so `--port 0` can print the port the system chose.
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    print(_banner(world, f"http://{args.host}:{port}", args.mode), flush=True)
    app = create_app(world, args.mode, faults, drift=args.drift)
    app.state.emulator.pick_user = args.pick_user
    config = uvicorn.Config(app, log_level="warning", ws="none")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
