"""A ReccoBeats-compatible audio-features endpoint, knowing a configurable share of tracks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spotify_emulator.ids import reccobeats_id
from spotify_emulator.state import state_of

MAX_IDS = 40


async def audio_features(request: Request) -> JSONResponse:
    """GET /v1/audio-features?ids=<spotify ids>: features of the tracks it knows, others omitted."""
    state = state_of(request)
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids or len(ids) > MAX_IDS:
        message = f"ids must hold between 1 and {MAX_IDS} ids"
        return JSONResponse(
            {"status": 400, "error": "Bad Request", "message": message}, status_code=400
        )
    world, coverage = state.world, state.faults.reccobeats_coverage
    content = [
        {
            "id": reccobeats_id(track_id),
            "href": f"https://open.spotify.com/track/{track_id}",
            "isrc": world.tracks[track_id].isrc,
            **world.features[track_id],
        }
        for track_id in dict.fromkeys(ids)
        if world.reccobeats_knows(track_id, coverage)
    ]
    return JSONResponse({"content": content})


routes = [Route("/audio-features", audio_features)]
