"""plotly.js and the pages' own files: served by the service, cached by version, and plotly
checked without a browser to need no code built from strings (the pages' CSP has no eval)."""

from __future__ import annotations

import re

import httpx
import pytest
from plotly.offline import get_plotlyjs

from web import assets, charts, templating

# Every place the bundle builds code from a string, each with why our charts never reach it.
# A plotly upgrade that adds one fails this test: audit it, then add it here or allow it.
AUDITED_CODE_FROM_STRINGS = {
    # the global object's fallback, inside try/catch, after `this` (a window) answered
    'return this||new Function("return this")()',
    # the function-bind polyfill, used only where Function.prototype.bind is missing
    'n=Function("binder","return function ("',
    # regl's shader-command compiler: WebGL traces (scattergl, splom, parcoords...) only
    "var jr=Function.apply(null,or.concat(Qt))",
    # maplibre's worker loader: map traces only
    "globalThis.eval(r)",
}
CODE_FROM_STRINGS = re.compile(r"\beval\(|\bFunction\(|Function\.apply\(|setTimeout\(\s*['\"]")


def test_plotly_builds_code_from_strings_only_where_our_charts_never_go() -> None:
    bundle = get_plotlyjs()
    found = [match.start() for match in CODE_FROM_STRINGS.finditer(bundle)]
    unexplained = [
        bundle[max(0, at - 60) : at + 60]
        for at in found
        if not any(
            known in bundle[max(0, at - 80) : at + 80] for known in AUDITED_CODE_FROM_STRINGS
        )
    ]
    assert not unexplained, unexplained
    assert len(found) == len(AUDITED_CODE_FROM_STRINGS)
    # The pages draw only SVG traces, none of which is WebGL or a map.
    assert charts.TRACE_TYPES.issubset({"scatterpolar", "heatmap", "bar", "scatter"})


def test_the_page_policy_allows_no_inline_script_and_no_eval() -> None:
    policy = dict(part.strip().split(" ", 1) for part in templating.PAGE_CSP.split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in policy["script-src"]


async def test_plotly_is_served_by_version_and_cached_for_a_year(api: httpx.AsyncClient) -> None:
    response = await api.get(assets.plotly_url(), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == get_plotlyjs().encode()  # httpx undid the gzip
    again = await api.get(assets.plotly_url(), headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert (await api.get("/assets/plotly-0.0.1.min.js")).status_code == 404


@pytest.mark.parametrize("name", sorted(assets.FILES))
async def test_static_files_are_cached_by_their_content_hash(
    api: httpx.AsyncClient, name: str
) -> None:
    url = assets.static_url(name)
    response = await api.get(url)
    assert response.status_code == 200
    assert response.content == (assets.STATIC / name).read_bytes()
    assert response.headers["cache-control"] == assets.IMMUTABLE
    stale = await api.get(f"/static/{name}?v=older")
    assert stale.headers["cache-control"] == "no-cache"


async def test_only_the_pages_own_files_are_served(api: httpx.AsyncClient) -> None:
    for path in ("/static/..%2Fassets.py", "/static/missing.js", "/static/templates"):
        assert (await api.get(path)).status_code in (400, 404), path
