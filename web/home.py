"""The home page: what a person sees first, with each user's latest picks."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from db import queries
from db.users import list_users
from web.pages import link, paragraph, render, text
from web.params import operation
from web.snapshots import database_of

USERS_SHOWN = 50
PICKS_SHOWN = 5


def _overview() -> list[dict[str, Any]]:
    """Users with a snapshot, each with the first few recommendations of the latest one."""
    shown = []
    for user in list_users()[:USERS_SHOWN]:
        if user["last_snapshot"] is None:
            continue
        ref = queries.find_snapshot(user["username"], user["last_snapshot"])
        picks = queries.recommendations(ref.id)[:PICKS_SHOWN]
        shown.append({**user, "source": ref.recommendation_source, "picks": picks})
    return shown


def _pick(pick: dict[str, Any]) -> str:
    track = pick["track"]
    artists = ", ".join(artist["name"] for artist in track["artists"])
    reason = f" <small>({text(pick['reason'])})</small>" if pick["reason"] else ""
    return f"<li>{text(track['name'])} — {text(artists)}{reason}</li>"


def _user_section(user: dict[str, Any]) -> str:
    name = user["username"]
    date = user["last_snapshot"].isoformat()
    api = f"/user-recommendations/{name}?date={date}"
    links = " · ".join(
        f'<a href="{text(href)}">{label}</a>'
        for href, label in (
            (api, "recommendations"),
            (f"/users/{name}/clusters?date={date}", "clusters"),
            (f"/users/{name}/top-items?date={date}&type=artists", "top artists"),
            (f"/users/{name}/history", "history"),
            (f"/users/{name}/statistics?date={date}", "statistics"),
        )
    )
    picks = "".join(_pick(pick) for pick in user["picks"])
    heading = f"{text(name)} <small>{date}, {text(user['source'] or '')} picks</small>"
    return f"<h2>{heading}</h2><ol>{picks}</ol><p>{links}</p>"


@operation(
    "A page for people: the service, and each user's latest picks",
    responses={200: "An HTML page."},
    protected=False,
    tag="pages",
)
async def home(request: Request) -> Response:
    # With API keys on, user data stays behind them: the page then lists nobody.
    private = bool(request.app.state.settings.api_keys)
    users = [] if private else await database_of(request).run(_overview)
    body = [
        paragraph("Dated snapshots of Spotify listening: top items, clusters, recommendations."),
        *(_user_section(user) for user in users),
        link("/auth/login", "Add yourself: sign in with Spotify"),
        link("/openapi.json", "The API (OpenAPI document)"),
    ]
    if private:
        body.insert(1, paragraph("Reading user data needs an API key."))
    elif not users:
        body.insert(1, paragraph("No snapshots yet."))
    return render("Spotify Insight", *body)
