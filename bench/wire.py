"""A bare HTTP/1.1 keep-alive client that counts every byte of a response as it came off the wire.

httpx hands back decoded bodies and parsed headers; the bytes a 304 saves are status line,
headers and body as the server sent them, so this reads them raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

NO_BODY = frozenset({204, 304})


@dataclasses.dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    wire_bytes: int


class WireClient:
    """One open connection; `get` sends a request and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def get(self, target: str, headers: Mapping[str, str]) -> WireResponse:
        """GET `target` with `headers`; the status, the headers and the bytes received."""
        lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, parsed = _parse_head(head)
        if "transfer-encoding" in parsed:
            raise ValueError(f"GET {target}: chunked bodies are not counted here")
        length = 0 if status in NO_BODY else int(parsed.get("content-length", "0"))
        await self._reader.readexactly(length)
        return WireResponse(status, parsed, len(head) + length)


@contextlib.asynccontextmanager
async def connected(base_url: str) -> AsyncIterator[WireClient]:
    """A keep-alive connection to a loopback server, closed afterwards."""
    parts = urlsplit(base_url)
    if parts.hostname != "127.0.0.1":
        raise ValueError(f"requests are only ever sent to 127.0.0.1, not {base_url}")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        yield WireClient(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {}
    for field in filter(None, fields):
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers
