"""Every package our code imports is declared in the Pipfile, not only installed beside one.

A package that comes in only as another's dependency leaves when that one drops it, and the
service then fails at import on a fresh install. Product code needs `[packages]`; tests and
benchmarks may also use `[dev-packages]`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.import_graph import ROOT, product_modules, top_level_imports

NOT_PRODUCT = ("tests", "bench")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(section: Mapping[str, object]) -> set[str]:
    return {_normal(name) for name in section}


OURS = frozenset(path.stem for path in ROOT.iterdir() if not path.name.startswith("."))


def undeclared(
    imports: Iterable[str], declared: set[str], distributions: Mapping[str, list[str]]
) -> set[str]:
    """The third-party top-level names among `imports` that no declared distribution provides."""
    return {
        name
        for name in imports
        if name not in sys.stdlib_module_names
        and name not in OURS
        and name != "__future__"
        and not {_normal(d) for d in distributions.get(name, [])} & declared
    }


def _pipfile() -> dict[str, dict[str, object]]:
    return tomllib.loads((ROOT / "Pipfile").read_text(encoding="utf-8"))


def _imports(paths: Iterable[Path]) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): set(top_level_imports(p.read_text("utf-8"))) for p in paths}


def _undeclared_by_path(paths: Iterable[Path], declared: set[str]) -> dict[str, set[str]]:
    distributions = packages_distributions()  # reads every installed package's metadata
    return {
        path: names
        for path, imports in _imports(paths).items()
        if (names := undeclared(imports, declared, distributions))
    }


def test_product_code_imports_only_declared_packages() -> None:
    declared = _declared(_pipfile()["packages"])
    found = _undeclared_by_path((path for _, path in product_modules()), declared)
    assert found == {}, "declare each in the Pipfile's [packages] and lock it"


def test_tests_and_benchmarks_import_only_declared_packages() -> None:
    pipfile = _pipfile()
    declared = _declared(pipfile["packages"]) | _declared(pipfile["dev-packages"])
    paths = (p for top in NOT_PRODUCT for p in sorted((ROOT / top).rglob("*.py")))
    found = _undeclared_by_path(paths, declared)
    assert found == {}, "declare each in the Pipfile's [dev-packages] and lock it"


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        pytest.param(["anyio"], {"anyio"}, id="transitive-only"),
        pytest.param(["httpx", "json", "db", "__future__"], set(), id="declared-stdlib-ours"),
        pytest.param(["yaml"], set(), id="import-name-differs-from-distribution"),
        pytest.param(["not_installed_anywhere"], {"not_installed_anywhere"}, id="not-installed"),
    ],
)
def test_the_checker_names_each_undeclared_import(imports: list[str], expected: set[str]) -> None:
    distributions = {"anyio": ["anyio"], "httpx": ["httpx"], "yaml": ["PyYAML"]}
    assert undeclared(imports, {"httpx", "pyyaml"}, distributions) == expected
