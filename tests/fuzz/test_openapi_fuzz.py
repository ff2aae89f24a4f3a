"""schemathesis against /openapi.json: no server error, no answer off its documented schema.

The real service runs on a loopback port with API keys and the admin token on, in front of an
emulated Spotify, on each database, with users, snapshots and history in it. Every documented
operation is fuzzed with a bounded number of examples, both valid and invalid ones, and every
answer goes through schemathesis' checks. Each defect it found has a plain regression test
beside the endpoint's own tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from starlette.datastructures import Secret

from application import build_app
from db.database import Database
from db.models import User
from db.token_cipher import TokenCipher, generate_key
from db.users import save_user_token
from settings import Settings
from spotify_emulator import EmulatorServer, World
from tests.e2e.conftest import configure
from tests.factories import make_snapshot, make_track
from tests.threaded_server import bound_socket, serving

pytestmark = pytest.mark.slow

API_KEY = "fuzz-api-key-5b1d"
ADMIN_TOKEN = "fuzz-admin-token-9e7c"
# Examples per operation and generation mode: about a minute per database on this machine.
EXAMPLES = 25
WORLD = World.generate(seed=11, users=3)
# Refusing a schema-valid request is right when the refusal is about meaning, which a schema
# cannot say: a range whose `from` is after its `to`, a time zone no database knows, an OAuth
# `state` this service never issued. Those are documented 400s, not defects.
SEMANTIC = [schemathesis.checks.positive_data_acceptance]


# Reads of alice's data: besides the fuzzing, each is asked once plainly, so an answer built
# from real rows is validated against the document on every run, not when random examples
# happen to name alice with no other parameter (an earlier version counted on that and
# failed whenever the document's changes reshuffled the examples).
READS_OF_ALICE = {
    f"GET /users/{{username}}/{part}"
    for part in ("clusters", "snapshots", "changes", "statistics", "history", "top-items")
}


@dataclasses.dataclass(frozen=True)
class Served:
    base: str
    schema: Any


def _fill(database: Database, key: str) -> None:
    """The world's listeners as users (the first as `alice`, the OpenAPI example), with
    snapshots on two dates so changes, statistics and history have something to say."""
    cipher = TokenCipher([key])
    names = ["alice", *(user.id for user in WORLD.users[1:])]
    for name, user in zip(names, WORLD.users, strict=True):
        database.run_sync(save_user_token, name, cipher.encrypt(user.refresh_token))

    def snapshots() -> None:
        alice = User.get(User.username == "alice")
        tracks = [make_track(f"fuzz{n}", ["fuzzartist"]).id for n in range(3)]
        ranges = ("short_term", "medium_term", "long_term")
        for date in (dt.date(2026, 11, 20), dt.date(2026, 11, 21)):
            make_snapshot(
                alice,
                date,
                recommendations=tracks[:1],
                top_tracks=dict.fromkeys(ranges, tracks),
                top_artists=dict.fromkeys(ranges, ("fuzzartist",)),
            )

    database.run_sync(snapshots)


@pytest.fixture
def served(database: Database, settings: Settings) -> Iterator[Served]:
    key = generate_key()
    _fill(database, key)
    with (
        EmulatorServer(WORLD, "development") as emulator,
        bound_socket() as sock,
    ):
        configured = configure(
            settings,
            emulator,
            WORLD,
            key,
            api_keys=(Secret(API_KEY),),
            admin_token=Secret(ADMIN_TOKEN),
        )
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with serving(build_app(configured), sock, log_level="warning"):
            yield Served(base, schemathesis.openapi.from_url(f"{base}/openapi.json"))


def _credentials(operation: Any) -> dict[str, str]:
    security = operation.definition.raw.get("security") or []
    token = ADMIN_TOKEN if {"adminToken": []} in security else API_KEY
    return {"Authorization": f"Bearer {token}"}


def _fuzz(served: Served, operation: Any, mode: GenerationMode) -> None:
    headers = _credentials(operation)

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=served.base, headers=headers, timeout=30, excluded_checks=SEMANTIC
        )

    check()


def test_every_operation_answers_within_its_documented_schema(served: Served) -> None:
    # Deletions last: the others should meet the data they delete.
    operations = sorted(
        (result.ok() for result in served.schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    assert len(operations) > 20, "the document lost its operations"
    found = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(served, operation, mode)
            except hypothesis.errors.Unsatisfiable:
                # Nothing to make invalid: the operation takes no parameters or body.
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (AssertionError, FailureGroup) as failure:
                found.append(f"{operation.label} ({mode.value}): {failure}")
    assert not found, "\n\n".join(found)


def test_alices_data_answers_within_its_documented_schema(served: Served) -> None:
    reads = [
        result.ok()
        for result in served.schema.get_all_operations()
        if result.ok().label in READS_OF_ALICE
    ]
    assert {operation.label for operation in reads} == READS_OF_ALICE
    for operation in reads:
        case = operation.Case(path_parameters={"username": "alice"})
        response = case.call_and_validate(
            base_url=served.base, headers=_credentials(operation), timeout=30
        )
        assert response.status_code == 200, (operation.label, response.text[:200])
