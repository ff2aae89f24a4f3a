"""The `keys` commands: scoped API keys, each reading only the users it names.

A key is printed once, by `keys create`; the database keeps only its hash, so a lost key
cannot be shown again: revoke it and create another.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from cli_shared import add_command, checked_database
from db.api_keys import create_key, list_keys, revoke_key
from settings import Settings


def _cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    users = list(dict.fromkeys(args.users))
    with checked_database(settings) as database:
        created = database.run_sync(create_key, users, args.name)
    label = f" ({created.name})" if created.name else ""
    print(f"created API key {created.id}{label} reading {', '.join(created.users)}")
    print("the key is shown this once; store it now (only its hash is kept):")
    print(created.secret)
    return 0


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        keys = database.run_sync(list_keys)
    print(f"{'ID':<5} {'NAME':<24} {'CREATED (UTC)':<17} {'REVOKED (UTC)':<17} USERS")
    for key in keys:
        name = key["name"] or "-"
        created, revoked = _when(key["created_at"]), _when(key["revoked_at"])
        print(f"{key['id']:<5} {name:<24} {created:<17} {revoked:<17} {', '.join(key['users'])}")
    return 0


def _cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with checked_database(settings) as database:
        revoked = database.run_sync(revoke_key, args.key)
    label = f" ({revoked['name']})" if revoked["name"] else ""
    print(f"revoked API key {revoked['id']}{label}; it stops working at once")
    return 0


def keys_parser(subparsers: Any) -> None:
    """The `keys` command group."""
    keys = subparsers.add_parser(
        "keys",
        help="scoped API keys",
        description="Scoped API keys: each reads only the users it names.",
    )
    commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = add_command(
        commands, "create", _cmd_keys_create, "create a key reading these users; printed once"
    )
    create.add_argument(
        "--user",
        dest="users",
        action="append",
        required=True,
        metavar="USERNAME",
        help="a user the key may read (repeat for more)",
    )
    create.add_argument("--name", help="a name to find the key by in `list` and `revoke`")
    add_command(commands, "list", _cmd_keys_list, "list keys and whom they read (never the key)")
    revoke = add_command(commands, "revoke", _cmd_keys_revoke, "revoke a key, by id or name")
    revoke.add_argument("key", metavar="ID|NAME")
