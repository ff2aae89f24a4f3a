"""The route table: every URL the service answers. Admin routes exist only with ADMIN_TOKEN."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.routing import BaseRoute, Route

from web import (
    admin,
    admin_sign_in,
    artist_page,
    artists,
    assets,
    auth,
    changes,
    export,
    health,
    history,
    home,
    monitoring,
    playlists,
    recap_page,
    snapshots,
    stats,
    user_page,
    users,
)


class _AdminSetting(Protocol):
    @property
    def admin_token(self) -> Any: ...


routes: list[BaseRoute] = [
    # The snapshot reads first: other services call them in their own hot paths, and the
    # router tries each route in turn (seven misses before them cost ~5 us a request).
    Route("/user-recommendations/{username}", snapshots.user_recommendations, methods=["GET"]),
    Route("/users/{username}/top-items", snapshots.top_items, methods=["GET"]),
    Route("/users/{username}/clusters", snapshots.clusters, methods=["GET"]),
    Route("/", home.home, methods=["GET"]),
    Route("/health", health.health, methods=["GET"]),
    Route("/openapi.json", health.openapi, methods=["GET"]),
    Route("/auth/login", auth.login, methods=["GET"]),
    Route("/auth/login", auth.start_login, methods=["POST"]),
    Route("/auth/callback", auth.callback, methods=["GET"]),
    Route("/auth/logout", auth.logout, methods=["POST"]),
    Route("/users/{username}", users.user, methods=["GET"]),
    Route("/users/{username}/snapshots", snapshots.snapshots, methods=["GET"]),
    Route("/users/{username}/history", history.plays, methods=["GET"]),
    Route("/users/{username}/statistics", history.statistics, methods=["GET"]),
    Route("/users/{username}/export", export.export, methods=["GET"]),
    Route("/users/{username}/changes", changes.user_changes, methods=["GET"]),
    Route("/artists/search", artists.search, methods=["GET"]),
    Route("/artists/{id}/profile", artists.artist_profile, methods=["GET"]),
    Route("/users/{username}/playlists", playlists.playlists, methods=["GET"]),
    Route("/users/{username}/playlists/{id}/profile", playlists.playlist_profile, methods=["GET"]),
    Route("/users/{username}/stats", stats.stats, methods=["GET"]),
    Route("/users/{username}/recap", stats.recap, methods=["GET"]),
    Route("/u/{username}", user_page.user_page, methods=["GET"]),
    Route("/u/{username}/recap/{year}", recap_page.recap_page, methods=["GET"]),
    Route("/artists/{id}", artist_page.artist_page, methods=["GET"]),
    Route("/assets/plotly-{version}.min.js", assets.plotly_js, methods=["GET"]),
    Route("/static/{name}", assets.static_file, methods=["GET"]),
]

# The admin's browser sign-in: a page anyone may open, present only with ADMIN_TOKEN.
admin_sign_in_routes: list[BaseRoute] = [
    Route("/auth/admin", admin_sign_in.admin_sign_in_page, methods=["GET"]),
    Route("/auth/admin", admin_sign_in.admin_sign_in, methods=["POST"]),
]

admin_routes: list[BaseRoute] = [
    Route("/admin/snapshots", admin.start_snapshots, methods=["POST"]),
    Route("/admin/snapshots/{run_id}", admin.snapshot_run, methods=["GET"]),
    Route("/users/{username}", users.delete_user, methods=["DELETE"]),
    Route("/users/{username}/snapshots/{date}", admin.delete_snapshot, methods=["DELETE"]),
    Route("/metrics", monitoring.prometheus_metrics, methods=["GET"]),
]


def build_routes(settings: _AdminSetting) -> list[BaseRoute]:
    """The routes for these settings: without ADMIN_TOKEN the admin API does not exist."""
    admin = [*admin_sign_in_routes, *admin_routes] if settings.admin_token else []
    return [*routes, *admin]
