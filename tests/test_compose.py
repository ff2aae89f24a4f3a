"""docker-compose.dev.yml and Dockerfile.dev, checked without a Docker engine: PostgreSQL is
healthy before the migrations run, the migrations succeed before the API starts, and each
container's command is one the CLI accepts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.dev.yml").read_text(encoding="utf-8"))
    return dict(document["services"])


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def test_postgresql_reports_healthy_only_when_it_accepts_connections(
    services: dict[str, Any],
) -> None:
    database = services["db"]
    assert database["image"].startswith("postgres:")
    check = " ".join(database["healthcheck"]["test"])
    env = database["environment"]
    assert f"pg_isready -U {env['POSTGRES_USER']} -d {env['POSTGRES_DB']}" in check


def test_migrations_wait_for_a_healthy_database_and_the_api_for_the_migrations(
    services: dict[str, Any],
) -> None:
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["api"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    # A one-shot job: restarted, it would never count as completed.
    assert services["migrate"].get("restart", "no") == "no"


def test_the_commands_are_the_clis_migrate_then_serve_with_the_scheduler(
    services: dict[str, Any],
) -> None:
    parser = build_parser()
    migrate = _command(services["migrate"])
    serve = _command(services["api"])
    assert migrate[:2] == serve[:2] == ["python", "application.py"]
    assert parser.parse_args(migrate[2:]).command == "migrate"
    served = parser.parse_args(serve[2:])
    assert served.command == "serve"
    assert served.host == "0.0.0.0"  # noqa: S104 - in its container, published on loopback
    assert not served.no_scheduler
    published = [str(port) for port in services["api"]["ports"]]
    assert published == [f"127.0.0.1:{served.port}:{served.port}"]


def test_both_containers_use_the_compose_database(services: dict[str, Any]) -> None:
    env = services["db"]["environment"]
    url = f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@db:5432/"
    for name in ("migrate", "api"):
        assert services[name]["environment"]["DATABASE_URL"] == url + env["POSTGRES_DB"]


def test_the_image_installs_the_lock_and_serves_like_compose(services: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile.dev").read_text(encoding="utf-8")
    assert "COPY Pipfile Pipfile.lock" in dockerfile
    assert re.search(r"^RUN pipenv sync\b", dockerfile, re.MULTILINE)
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE)
    assert cmd is not None
    assert json.loads(cmd.group(1)) == _command(services["api"])
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".env", ".git"} <= set(ignored)
