"""The Web API's GET: the capability gate, status translation, parsing, page fetchers.

`SpotifyClient` and every `UserSession` call Spotify through one `Api`; they differ only in
the `httpx.Auth` they pass (the app's token or the user's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from spotify_client._capabilities import Capabilities
from spotify_client._errors import (
    EndpointUnavailable,
    parse_answer,
    status_error,
)
from spotify_client._paging import Fetch, offset_page
from spotify_client._requester import Requester
from spotify_models import Skipped, parse_each

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Api:
    """GET requests to the Web API, each answered by a parsed value or a typed error."""

    def __init__(self, requester: Requester, api_url: str, capabilities: Capabilities) -> None:
        self._requester = requester
        self._api_url = api_url.rstrip("/")
        self._capabilities = capabilities

    async def get(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        auth: httpx.Auth,
        parse: Callable[[Any], T],
        *,
        capability: str | None = None,
    ) -> T:
        """GET `path`, translate the status, parse the answer."""
        if capability is not None and not self._capabilities.available(capability):
            raise EndpointUnavailable(capability)
        request = self._requester.build("GET", self._api_url + path, params=params)
        response, body = await self._requester.send_json(request, auth)
        if response.is_success:
            return parse_answer(request, body, parse)
        # A removed endpoint answers 403 or 404; the batch and feature endpoints answer
        # unknown ids with null entries, so on them neither status can mean "no such id".
        if capability is not None and response.status_code in (403, 404):
            await self._capabilities.mark_closed(capability)
            raise EndpointUnavailable(capability)
        raise status_error(response)

    def page_fetcher(
        self, path: str, params: Mapping[str, Any], auth: httpx.Auth, container: str | None = None
    ) -> Fetch:
        """A fetch of one offset page of `path` (its items under `container`, if given)."""

        async def fetch(paging: dict[str, Any]) -> tuple[list[Any], bool]:
            return await self.get(
                path, {**params, **paging}, auth, lambda body: offset_page(body, container)
            )

        return fetch


def parse_items(
    raw: Sequence[Any], where: str, parse: Callable[[Any], T], skipped: Skipped | None = None
) -> list[T]:
    """Every raw item of `GET where` that keeps the contract; each one that breaks it (or is a
    local file or an episode where a track was expected) is left out and counted in `skipped`.

    One odd item never costs the page: Spotify sends local files with null ids, and the spec
    makes every field of a track optional.
    """
    tally = Skipped()
    items = parse_each(raw, parse, where, tally)
    if tally.total:
        logger.info("GET %s: left out %s", where, tally.as_dict()[where])
        if skipped is not None:
            skipped.merge(tally)
    return items


def segment(value: str) -> str:
    """An id as one URL path segment; an empty id is refused."""
    if not value:
        raise ValueError("a Spotify id must not be empty")
    return quote(value, safe="")
