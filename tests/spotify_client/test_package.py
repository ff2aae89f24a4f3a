"""The package's public face: today's names import from `spotify_client`, and the session
reaches the client only through the small internal interface it is handed."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import spotify_client

PACKAGE = Path(spotify_client.__file__).parent


@pytest.mark.parametrize("name", spotify_client.__all__)
def test_every_public_name_is_exported(name: str) -> None:
    assert getattr(spotify_client, name) is not None


@pytest.mark.parametrize(
    "name",
    ["SpotifyClient", "UserSession", "RetryPolicy", "CAPABILITIES", "create_http_client"],
)
def test_names_the_rest_of_the_service_imports_are_public(name: str) -> None:
    assert name in spotify_client.__all__


def _private_reaches(module: str) -> list[str]:
    """`x._name` where `x` is not `self`: a reach into another object's private members."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    return [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in PACKAGE.glob("_*.py") if p.stem != "__init__")
)
def test_no_module_reaches_into_another_objects_private_members(module: str) -> None:
    importlib.import_module(f"spotify_client.{module}")
    assert _private_reaches(module) == []


def test_the_session_does_not_know_the_client() -> None:
    tree = ast.parse((PACKAGE / "_session.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "spotify_client._client" not in imported
