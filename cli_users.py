"""The `users` commands: register, list, remove, change settings, re-encrypt tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from application import open_resources, token_cipher
from cli_shared import CommandError, add_command, checked_database
from db.token_cipher import TokenCipher
from db.users import (
    AccountConflict,
    list_users,
    remove_user,
    rotate_tokens,
    save_user_token,
    set_user_public,
    set_user_timezone,
    validate_username,
)
from settings import Settings
from spotify_client import InvalidGrant, SpotifyError

STDIN_MARK = "-"


def _cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    validate_username(args.username)
    cipher = token_cipher(settings)
    settings.require_spotify_app("check the token")
    # "-" reads the token from stdin, keeping it out of shell history and `ps`.
    from_stdin = args.refresh_token == STDIN_MARK
    token = sys.stdin.readline().strip() if from_stdin else args.refresh_token
    if not token:
        raise CommandError("the refresh token is empty")
    created, name = asyncio.run(_add_checked_user(settings, cipher, args.username, token))
    who = f" ({name})" if name else ""
    print(f"{'added' if created else 'updated'} user {args.username}{who}")
    return 0


async def _add_checked_user(
    settings: Settings, cipher: TokenCipher, username: str, refresh_token: str
) -> tuple[bool, str | None]:
    """Check the token against Spotify's /me, then store it (or the one Spotify rotated to)."""
    async with open_resources(settings) as resources:
        try:
            login = await resources.spotify.check_login(refresh_token)
        except InvalidGrant:
            raise CommandError(
                "Spotify refused this refresh token (invalid_grant); nothing was stored"
            ) from None
        except SpotifyError as exc:
            raise CommandError(f"could not check the token with Spotify: {exc}") from None
        profile = login.profile
        try:
            created = await resources.database.run(
                save_user_token,
                username,
                cipher.encrypt(login.refresh_token),
                account_id=profile.account_id or profile.id,
                display_name=profile.display_name,
            )
        except AccountConflict as exc:
            raise CommandError(str(exc)) from None
    return created, profile.display_name


def _cmd_users_list(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        users = database.run_sync(list_users)
    print(f"{'USERNAME':<24} {'STATUS':<16} {'PAGES':<8} LAST SNAPSHOT")
    for user in users:
        last = user["last_snapshot"].isoformat() if user["last_snapshot"] else "never"
        pages = "public" if user["public"] else "private"
        print(f"{user['username']:<24} {user['status']:<16} {pages:<8} {last}")
        if user["status_reason"]:
            print(f"  {user['status_reason']}")
    return 0


def _cmd_users_remove(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        database.run_sync(remove_user, args.username)
    print(f"removed user {args.username} and all of their data")
    return 0


def _cmd_users_set(settings: Settings, args: argparse.Namespace) -> int:
    if args.timezone is None and args.public is None:
        raise CommandError("nothing to set: give --timezone ZONE, --public or --private")
    with checked_database(settings) as database:
        # The zone goes first: a bad one (or an unknown user) stops before the pages change.
        if args.timezone is not None:
            zone = database.run_sync(set_user_timezone, args.username, args.timezone)
            print(f"user {args.username}: statistics count days and hours in {zone}")
        if args.public is not None:
            database.run_sync(set_user_public, args.username, args.public)
            print(f"user {args.username}: {_PAGES[args.public]}")
    return 0


_PAGES = {
    True: "pages are public: anyone who reaches the service may see them",
    False: "pages are private: only the user, signed in, and the admin may see them",
}


def _cmd_users_rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    cipher = token_cipher(settings)
    with checked_database(settings) as database:
        count = database.run_sync(rotate_tokens, cipher.rotate)
    print(
        f"re-encrypted {count} refresh token{'' if count == 1 else 's'} with the first "
        "TOKEN_ENCRYPTION_KEY; the other keys may now be removed"
    )
    return 0


def users_parser(subparsers: Any) -> None:
    """The `users` command group."""
    users = subparsers.add_parser(
        "users", help="manage registered users", description="Manage registered users."
    )
    commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    add = add_command(
        commands,
        "add",
        _cmd_users_add,
        "register a user, or replace their refresh token (checked with Spotify first)",
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument(
        "--refresh-token",
        required=True,
        metavar="TOKEN",
        help="the user's Spotify refresh token, or - to read it from stdin",
    )
    add_command(commands, "list", _cmd_users_list, "list users with status and last snapshot")
    remove = add_command(
        commands, "remove", _cmd_users_remove, "remove a user and all of their data"
    )
    remove.add_argument("username", metavar="USERNAME")
    user_set = add_command(commands, "set", _cmd_users_set, "change a user's settings")
    user_set.add_argument("username", metavar="USERNAME")
    user_set.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone in which statistics count days and hours (e.g. Europe/Berlin)",
    )
    pages = user_set.add_mutually_exclusive_group()
    pages.add_argument(
        "--public",
        action="store_const",
        const=True,
        dest="public",
        help="open the user's pages to everyone (the JSON API keeps its own keys)",
    )
    pages.add_argument(
        "--private",
        action="store_const",
        const=False,
        dest="public",
        help="close the user's pages to all but the user and the admin (the default)",
    )
    add_command(
        commands,
        "rotate-keys",
        _cmd_users_rotate_keys,
        "re-encrypt every stored token with the first TOKEN_ENCRYPTION_KEY",
    )
