"""Controls for tests in another process: faults, the request log, consent, revocation."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spotify_emulator.faults import Faults
from spotify_emulator.history_export import PLAYS_PER_DAY, generate_history
from spotify_emulator.state import state_of


async def _body(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    return data


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def get_faults(request: Request) -> JSONResponse:
    """GET /_emulator/faults."""
    return JSONResponse(state_of(request).faults.to_json())


async def set_faults(request: Request) -> JSONResponse:
    """POST /_emulator/faults: replace every setting (omitted ones take their defaults)."""
    try:
        faults = Faults.from_json(await _body(request))
    except (ValueError, TypeError) as exc:
        return _bad(exc)
    state_of(request).set_faults(faults)
    return JSONResponse(faults.to_json())


async def requests_log(request: Request) -> Response:
    """GET /_emulator/requests lists the log; DELETE clears it."""
    state = state_of(request)
    if request.method == "DELETE":
        state.clear_requests()
        return Response(status_code=204)
    return JSONResponse({"requests": [r.to_json() for r in state.requests()]})


async def revoke(request: Request) -> Response:
    """POST /_emulator/revoke {"user_id"}: the user removes the app's access."""
    try:
        state_of(request).revoke(str((await _body(request))["user_id"]))
    except (KeyError, ValueError, TypeError) as exc:
        return _bad(exc)
    return Response(status_code=204)


async def consent(request: Request) -> Response:
    """POST /_emulator/consent {"user_id", "deny", "pick"?}: who the authorize page signs in,
    or (pick) whether it lets the person choose."""
    state = state_of(request)
    try:
        body = await _body(request)
        if "user_id" in body:
            state.consent_user = state.world.user(str(body["user_id"])).id
        state.deny_consent = bool(body.get("deny", False))
        if "pick" in body:
            state.pick_user = bool(body["pick"])
    except (KeyError, ValueError, TypeError) as exc:
        return _bad(exc)
    return Response(status_code=204)


def _user_ids(value: object) -> list[str] | None:
    if value is not None and not isinstance(value, list):
        raise TypeError("user_ids must be a list of user ids or null")
    return None if value is None else [str(user_id) for user_id in value]


async def allow_list(request: Request) -> JSONResponse:
    """GET|POST /_emulator/allow-list {"user_ids": [...] | null}: the dev-mode app's users."""
    state = state_of(request)
    if request.method == "POST":
        try:
            state.set_allow_list(_user_ids((await _body(request))["user_ids"]))
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(exc)
    allowed = state.allow_list
    return JSONResponse({"user_ids": None if allowed is None else sorted(allowed)})


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number")
    return float(value)


async def listening(request: Request) -> Response:
    """POST /_emulator/listening {"plays_per_day", "user_ids"?}: plays accrue with the clock."""
    try:
        body = await _body(request)
        rate = _number(body["plays_per_day"], "plays_per_day")
        state_of(request).simulate_listening(rate, _user_ids(body.get("user_ids")))
    except (KeyError, ValueError, TypeError) as exc:
        return _bad(exc)
    return Response(status_code=204)


async def history_export(request: Request) -> Response:
    """GET /_emulator/history-export?user_id=&years=&plays_per_day=&entries=: the export ZIP."""
    params = request.query_params
    try:
        export = generate_history(
            state_of(request).world,
            params["user_id"],
            years=float(params.get("years", "1")),
            plays_per_day=float(params.get("plays_per_day", str(PLAYS_PER_DAY))),
            entries=int(params["entries"]) if "entries" in params else None,
        )
    except (KeyError, ValueError) as exc:
        return _bad(exc)
    headers = {"Content-Disposition": 'attachment; filename="my_spotify_data.zip"'}
    return Response(export.zip_bytes(), media_type="application/zip", headers=headers)


async def expire_tokens(request: Request) -> Response:
    """POST /_emulator/expire-tokens: every access token issued so far stops working."""
    state_of(request).tokens.expire_access_tokens()
    return Response(status_code=204)


async def play(request: Request) -> Response:
    """POST /_emulator/play {"user_id", "track_id", "played_at"?}: add a play to the history."""
    state = state_of(request)
    try:
        body = await _body(request)
        moment = dt.datetime.fromisoformat(body["played_at"]) if body.get("played_at") else None
        state.play(str(body["user_id"]), str(body["track_id"]), moment)
    except (KeyError, ValueError, TypeError) as exc:
        return _bad(exc)
    return Response(status_code=204)


routes = [
    Route("/faults", get_faults, methods=["GET"]),
    Route("/faults", set_faults, methods=["POST"]),
    Route("/requests", requests_log, methods=["GET", "DELETE"]),
    Route("/revoke", revoke, methods=["POST"]),
    Route("/consent", consent, methods=["POST"]),
    Route("/allow-list", allow_list, methods=["GET", "POST"]),
    Route("/listening", listening, methods=["POST"]),
    Route("/history-export", history_export, methods=["GET"]),
    Route("/expire-tokens", expire_tokens, methods=["POST"]),
    Route("/play", play, methods=["POST"]),
]
