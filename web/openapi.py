"""The OpenAPI document, generated from the routes and their declared operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Route

from web.params import Operation, Param

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
    }


BAD_PARAMETER = "A parameter is malformed, or is not one this endpoint takes."
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _response(status: int, description: str, spec: Operation) -> dict[str, Any]:
    if spec.tag in ("auth", "pages"):
        # Pages answer browsers, their own errors included; a request refused before the
        # page is reached (an unknown parameter, a missing key) is a problem document.
        errors = PROBLEM if status >= 400 else {}
        return {"description": description, "content": {"text/html": {}, **errors}}
    if spec.tag == "assets" and status == 200:
        # A stylesheet or a script, by the file asked for.
        return {"description": description, "content": {"text/javascript": {}, "text/css": {}}}
    if status >= 400:
        return {"description": description, "content": PROBLEM}
    if status == 200:
        types = (spec.media_type,) if isinstance(spec.media_type, str) else spec.media_type
        return {"description": description, "content": {media: {} for media in types}}
    return {"description": description}


NEEDS_CREDENTIALS = "Credentials are required (an API key or a signed-in session) and were "
NOT_COVERED = "The credentials do not cover this user (the same for a user who does not exist)."


def _responses(spec: Operation) -> dict[int, str]:
    """The declared answers, the 400 every strict endpoint gives an unknown parameter, and
    the refusals web.access may answer a protected route."""
    responses = dict(spec.responses)
    if spec.strict:
        responses.setdefault(400, BAD_PARAMETER)
    if spec.protected:
        responses.setdefault(401, NEEDS_CREDENTIALS + "missing or wrong.")
        if spec.reads_user:
            other = responses.get(403)
            responses[403] = f"{other} Or: {NOT_COVERED}" if other else NOT_COVERED
    return dict(sorted(responses.items()))


def _operation(route: Route, spec: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": route.name,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": [_parameter(param) for param in spec.params],
        "responses": {
            str(code): _response(code, text, spec) for code, text in _responses(spec).items()
        },
    }
    if spec.tag == "admin":
        document["security"] = [{"adminToken": []}]
    elif spec.protected:
        document["security"] = [{"apiKey": []}]
    return document


def operations(routes: Sequence[BaseRoute]) -> list[tuple[str, str, Route, Operation]]:
    """Every (method, path, route, operation) declared in the routes."""
    found = []
    for route in routes:
        spec = getattr(getattr(route, "endpoint", None), "__operation__", None)
        if isinstance(route, Route) and isinstance(spec, Operation):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method, route.path, route, spec))
    return found


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route, spec in operations(routes):
        paths.setdefault(path, {})[method.lower()] = _operation(route, spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Spotify Insight",
            "version": "1.0.0",
            "description": "Dated snapshots of Spotify listening: top items, clusters, picks.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "one of API_KEYS, or a scoped key (`keys create`)",
                },
                "adminToken": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
            },
        },
    }
