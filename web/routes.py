"""The route table: every URL the service answers."""

from __future__ import annotations

from starlette.routing import Route

from web import health, snapshots

routes = [
    Route("/health", health.health, methods=["GET"]),
    Route("/openapi.json", health.openapi, methods=["GET"]),
    Route("/user-recommendations/{username}", snapshots.user_recommendations, methods=["GET"]),
    Route("/users/{username}/top-items", snapshots.top_items, methods=["GET"]),
    Route("/users/{username}/clusters", snapshots.clusters, methods=["GET"]),
    Route("/users/{username}/snapshots", snapshots.snapshots, methods=["GET"]),
]
