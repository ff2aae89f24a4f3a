"""What every command module shares: the user-error type, the checked database, a subcommand."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from application import open_database
from db.database import Database
from db.migrations import check_schema
from settings import Settings


class CommandError(Exception):
    """A command cannot go on; the message is the one line the user sees."""


Command = Callable[[Settings, argparse.Namespace], int]


@contextlib.contextmanager
def checked_database(settings: Settings) -> Iterator[Database]:
    """The database, open, once its schema is known to be current; closed after."""
    database = open_database(settings)
    try:
        database.run_sync(check_schema, database.peewee)
        yield database
    finally:
        database.close()


def add_command(
    subparsers: Any, name: str, handler: Command, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text
    )
    parser.set_defaults(handler=handler)
    return parser
