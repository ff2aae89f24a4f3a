"""GET /users/{username}/export: the whole listening history, streamed page by page.

Music and podcast plays are read in pages of PAGE from their own tables and merged by
time, so a history of any length costs one page of each in memory. JSON is Spotify's
extended streaming history format (another instance imports it); CSV is one row per play.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from db import history_export
from db.database import Database
from db.history_export import Cursor, Page
from db.queries import user_id_of
from db.users import UnknownUser
from streaming_history import CSV_HEADER, ExportedPlay, csv_row, export_entry
from web.lifespan_state import database_of
from web.params import USERNAME, Param, one_of, operation
from web.problems import not_found
from web.snapshots import SNAPSHOT_RESPONSES

PAGE = 2000
FORMATS = ("json", "csv")
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}

FORMAT = Param(
    "format",
    "query",
    "json: Spotify's extended streaming history format (importable again); csv: one row per play.",
    one_of(*FORMATS),
    {"type": "string", "enum": list(FORMATS), "default": "json"},
    default="json",
)


async def _paged(
    database: Database, read: Callable[[int, Cursor | None, int], Page], user_id: int
) -> AsyncIterator[ExportedPlay]:
    after: Cursor | None = None
    while True:
        page = await database.run(read, user_id, after, PAGE)
        for _, play in page:
            yield play
        if len(page) < PAGE:
            return
        after = page[-1][0]


async def _in_time_order(database: Database, user_id: int) -> AsyncIterator[ExportedPlay]:
    """Music and podcast plays merged by the time they ended."""
    music = _paged(database, history_export.music_page, user_id)
    podcasts = _paged(database, history_export.episode_page, user_id)
    song, episode = await anext(music, None), await anext(podcasts, None)
    while True:
        if song is not None and (episode is None or song.ended_at <= episode.ended_at):
            yield song
            song = await anext(music, None)
        elif episode is not None:
            yield episode
            episode = await anext(podcasts, None)
        else:
            return


async def _json_body(plays: AsyncIterator[ExportedPlay]) -> AsyncIterator[bytes]:
    chunk = [b"["]
    separator = b""
    async for play in plays:
        chunk += (separator, orjson.dumps(export_entry(play)))
        separator = b",\n"
        if len(chunk) >= PAGE:
            yield b"".join(chunk)
            chunk = []
    chunk.append(b"]\n")
    yield b"".join(chunk)


async def _csv_body(plays: AsyncIterator[ExportedPlay]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    rows = 0
    async for play in plays:
        writer.writerow(csv_row(play))
        rows += 1
        if rows % PAGE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@operation(
    "The user's whole listening history (music and podcasts), streamed as JSON or CSV",
    USERNAME,
    FORMAT,
    responses={
        200: "Every play, oldest first: a JSON array of extended streaming history entries, "
        "or CSV with the columns " + ", ".join(CSV_HEADER) + ".",
        400: SNAPSHOT_RESPONSES[400],
        401: SNAPSHOT_RESPONSES[401],
        404: "Unknown user.",
    },
    tag="history",
    media_type=("application/json", "text/csv"),
)
async def export(request: Request, username: str, format: str) -> Response:
    database = database_of(request)
    try:
        user_id = await database.run(user_id_of, username)
    except UnknownUser as exc:
        raise not_found(str(exc)) from None
    plays = _in_time_order(database, user_id)
    body = _json_body(plays) if format == "json" else _csv_body(plays)
    filename = f"{username}-history.{format}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
