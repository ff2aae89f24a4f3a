"""Peewee stays in db/: product code elsewhere catches database errors through db's names."""

from __future__ import annotations

from tests.import_graph import ROOT, imports_of, product_modules

# bench/ compares database access strategies and tests/ set rows up: both may use Peewee.
ORM = {"peewee", "playhouse"}


def test_no_product_module_outside_db_imports_the_orm() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imports_of(path) & ORM)
        for top, path in product_modules()
        if top != "db" and imports_of(path) & ORM
    }
    assert offenders == {}


def test_the_walk_sees_the_product_code() -> None:
    walked = {path.relative_to(ROOT).parts[0] for _, path in product_modules()}
    assert {"web", "jobs", "application.py"} <= walked
