"""Tiny HTML pages for people (the OAuth screens): escaped text, strict security headers."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from starlette.responses import HTMLResponse

# No scripts, no frames, no third-party anything; forms may only go to `form_targets`.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action {form_action}"
)
_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}"


def security_headers(form_targets: Iterable[str] = ()) -> dict[str, str]:
    """Headers every HTML page sends; `form_targets` are origins forms may reach."""
    form_action = " ".join(("'self'", *form_targets))
    return {
        "Content-Security-Policy": _CSP.format(form_action=form_action),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def text(value: str) -> str:
    """`value` escaped for HTML text or a quoted attribute."""
    return html.escape(value, quote=True)


def paragraph(value: str) -> str:
    return f"<p>{text(value)}</p>"


def link(href: str, label: str) -> str:
    return f'<p><a href="{text(href)}">{text(label)}</a></p>'


def render(
    title: str,
    *body_html: str,
    status: int = 200,
    form_targets: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A whole page; every piece of `body_html` must already be escaped (see `text`)."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{text(title)}</h1>{''.join(body_html)}</body></html>"
    )
    all_headers = {**security_headers(form_targets), **(headers or {})}
    return HTMLResponse(document, status_code=status, headers=all_headers)


def too_many(title: str, sentence: str, retry_after: int) -> HTMLResponse:
    """The 429 page a rate-limited person sees, with when to try again."""
    headers = {"Retry-After": str(retry_after)}
    return render(title, paragraph(sentence), status=429, headers=headers)
