"""Imports point down the layers, never up; the emulator is the demo's alone.

Layers, bottom to top (README, "Architecture"): a module may import its own layer and the
layers below it. `serving` may not exist yet; a layer's absent modules are simply not walked.
"""

from __future__ import annotations

import pytest

from tests.import_graph import ROOT, product_modules, top_level_imports

LAYERS = {
    **dict.fromkeys(("spotify_models", "settings", "logs", "metrics", "streaming_history"), 0),
    "spotify_client": 1,
    "db": 2,
    "jobs": 3,
    "web": 4,
    **dict.fromkeys(
        ("application", "cli", "cli_shared", "cli_users", "cli_keys", "demo", "serving"), 5
    ),
}
EMULATOR = "spotify_emulator"
EMULATOR_USERS = {"demo"}  # and bench/, tests/, which are not product code


def layer_violations(importer: str, source: str) -> list[str]:
    """Why each import in `source`, a module of `importer`, breaks the layering."""
    found = []
    for imported in top_level_imports(source):
        if imported == EMULATOR and importer not in EMULATOR_USERS:
            found.append(f"{importer} imports {EMULATOR} (only {', '.join(EMULATOR_USERS)} may)")
        elif LAYERS.get(imported, -1) > LAYERS[importer]:
            found.append(
                f"{importer} (layer {LAYERS[importer]}) imports {imported} "
                f"(layer {LAYERS[imported]})"
            )
    return found


def test_every_product_module_has_a_layer() -> None:
    unplaced = {str(path.relative_to(ROOT)) for top, path in product_modules() if top not in LAYERS}
    assert unplaced == set(), "give each new top-level module a layer here and in the README"


def test_no_import_points_up_a_layer() -> None:
    found = {
        str(path.relative_to(ROOT)): problems
        for top, path in product_modules()
        if top in LAYERS and (problems := layer_violations(top, path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_walk_sees_every_layer() -> None:
    walked = {top for top, _ in product_modules()}
    assert set(LAYERS) - walked <= {"serving"}


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        pytest.param(
            "spotify_models",
            "from db.models import TIME_RANGES",
            ["spotify_models (layer 0) imports db (layer 2)"],
            id="vocabulary-imports-the-orm",
        ),
        pytest.param(
            "db",
            "def lazy():\n    import web.params\n",
            ["db (layer 2) imports web (layer 4)"],
            id="lazy-import-inside-a-function",
        ),
        pytest.param(
            "application",
            "from spotify_emulator import World",
            ["application imports spotify_emulator (only demo may)"],
            id="serve-loads-the-emulator",
        ),
        pytest.param("demo", "import spotify_emulator", [], id="the-demo-may-load-it"),
        pytest.param("jobs", "from db.runs import claim\nimport httpx", [], id="down-and-out"),
        pytest.param("web", "from .params import Param", [], id="relative-same-package"),
        pytest.param("cli", "import application", [], id="same-layer"),
    ],
)
def test_the_checker_names_each_upward_import(
    importer: str, source: str, expected: list[str]
) -> None:
    assert layer_violations(importer, source) == expected
