"""ReccoBeats-compatible audio features and track recommendations, knowing a configurable
share of tracks (`Faults.reccobeats_coverage`)."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spotify_emulator.ids import reccobeats_artist_id, reccobeats_id
from spotify_emulator.objects import MARKETS
from spotify_emulator.state import state_of
from spotify_emulator.world import World

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


MAX_SEEDS = 5
MAX_SIZE = 100
# The audio-feature targets ReccoBeats documents (liveness is accepted but steers nothing here).
TARGETS = (
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "speechiness",
    "tempo",
    "valence",
)


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse(
        {"status": 400, "error": "Bad Request", "message": message}, status_code=400
    )


def _size(request: Request) -> int | None:
    raw = request.query_params.get("size", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SIZE:
        return None
    return int(raw)


def _targets(request: Request) -> dict[str, float] | None:
    targets = {}
    for name in TARGETS:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            targets[name] = float(raw)
        except ValueError:
            return None
        if not math.isfinite(targets[name]):
            return None
    return targets


def _track(world: World, track_id: str) -> dict[str, Any]:
    track = world.tracks[track_id]
    return {
        "id": reccobeats_id(track_id),
        "trackTitle": track.name,
        "artists": [
            {
                "id": reccobeats_artist_id(artist_id),
                "name": world.artists[artist_id].name,
                "href": f"https://open.spotify.com/artist/{artist_id}",
            }
            for artist_id in track.artist_ids
        ],
        "durationMs": track.duration_ms,
        "isrc": track.isrc,
        "ean": None,
        "upc": None,
        "href": f"https://open.spotify.com/track/{track_id}",
        "availableCountries": ",".join(MARKETS),
        "popularity": track.popularity,
    }


async def track_recommendation(request: Request) -> JSONResponse:
    """GET /v1/track/recommendation?seeds=<1-5 ids>&size=<1-100>: tracks near the seeds' sound."""
    state = state_of(request)
    seeds = [s for s in request.query_params.get("seeds", "").split(",") if s]
    if not 1 <= len(seeds) <= MAX_SEEDS:
        return _bad_request(f"seeds must hold between 1 and {MAX_SEEDS} ids")
    size, targets = _size(request), _targets(request)
    if size is None:
        return _bad_request(f"size must be an integer between 1 and {MAX_SIZE}")
    if targets is None:
        return _bad_request("audio-feature targets must be numbers")
    world = state.world
    found = world.reccobeats_recommendations_for(
        seeds, size, state.faults.reccobeats_coverage, targets
    )
    return JSONResponse({"content": [_track(world, t) for t in found]})


routes = [
    Route("/audio-features", audio_features),
    Route("/track/recommendation", track_recommendation),
]
