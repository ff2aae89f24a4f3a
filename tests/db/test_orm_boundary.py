"""Peewee stays in db/: product code elsewhere catches database errors through db's names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# bench/ compares database access strategies and tests/ set rows up: both may use Peewee.
NOT_PRODUCT = {"db", "bench", "tests", ".venv"}
ORM = {"peewee", "playhouse"}


def _product_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        top = path.relative_to(ROOT).parts[0]
        if top not in NOT_PRODUCT and not top.startswith("."):
            yield path


def _imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_product_module_outside_db_imports_the_orm() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & ORM)
        for path in _product_files()
        if _imported_packages(path) & ORM
    }
    assert offenders == {}


def test_the_walk_sees_the_product_code() -> None:
    walked = {path.relative_to(ROOT).parts[0] for path in _product_files()}
    assert {"web", "jobs", "application.py"} <= walked
