"""The product code's imports, read with `ast` (nothing is imported): for tests of structure."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ and tests/ measure and set up; the emulator is a stand-in for Spotify, not the product.
NOT_PRODUCT = frozenset({"bench", "tests", "spotify_emulator"})


def product_modules() -> Iterator[tuple[str, Path]]:
    """(top-level name, path) of every product source file: `db` for db/users.py."""
    for path in sorted(ROOT.rglob("*.py")):
        top = path.relative_to(ROOT).parts[0].removesuffix(".py")
        if top not in NOT_PRODUCT and not top.startswith("."):
            yield top, path


def top_level_imports(source: str) -> Iterator[str]:
    """The top-level name of every absolute import, lazy ones inside functions included."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def imports_of(path: Path) -> set[str]:
    return set(top_level_imports(path.read_text(encoding="utf-8")))
