"""GET /users/{u}/export: the whole history, streamed; the JSON imports again elsewhere."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import Secret

from db.database import Database
from db.models import Play
from jobs.history_import import import_history
from streaming_history import CSV_HEADER
from tests.factories import episode_entry, make_track, make_user, track_entry, write_export

TRACK_A = "4uLU6hMCjMI75M1A2tKUQC"
TRACK_B = "7ouMYWpwJ422jRcDASZB7P"
EPISODE = "512ojhOuo1ktJprKbVcKyQ"
POLLED = "6rqhFgbbKwnb9MLmUQDhG6"
ENTRIES = [
    track_entry(TRACK_A, "2019-03-01T10:00:00Z", 200_000),
    episode_entry(EPISODE, "2019-03-01T11:00:00Z", 1_800_000),
    track_entry(TRACK_B, "2019-03-01T11:00:00Z", 12_000, artist="Björk", album="Post"),
]
POLLED_AT = dt.datetime(2026, 11, 20, 8, 30, 15, 250_000)


@pytest.fixture
def history(database: Database, tmp_path: Path) -> Database:
    """Ann: three imported plays (one a podcast) and one polled play of a catalogue track."""

    def users() -> None:
        ann = make_user("ann")
        make_user("bob")
        make_track(POLLED, ["a1"], "al1")
        Play.create(user=ann, track=POLLED, played_at=POLLED_AT)

    database.run_sync(users)
    path = write_export(tmp_path / "Streaming_History_Audio_2019.json", ENTRIES)
    import_history(database, "ann", [path], show_progress=False)
    return database


def _entry(ts: str, ms: int | None, kind: str, item: str, *names: str | None) -> dict[str, Any]:
    track = kind == "track"
    name, artist_or_show, album = (*names, None)[:3] if track else (*names, None, None)[:3]
    return {
        "ts": ts,
        "ms_played": ms,
        "master_metadata_track_name": name if track else None,
        "master_metadata_album_artist_name": artist_or_show if track else None,
        "master_metadata_album_album_name": album if track else None,
        "spotify_track_uri": f"spotify:track:{item}" if track else None,
        "episode_name": None if track else name,
        "episode_show_name": None if track else artist_or_show,
        "spotify_episode_uri": None if track else f"spotify:episode:{item}",
    }


EXPECTED = [
    _entry(
        "2019-03-01T10:00:00Z",
        200_000,
        "track",
        TRACK_A,
        f"Song {TRACK_A}",
        "Nina Simone",
        "Pastel Blues",
    ),
    _entry("2019-03-01T11:00:00Z", 12_000, "track", TRACK_B, f"Song {TRACK_B}", "Björk", "Post"),
    _entry(
        "2019-03-01T11:00:00Z", 1_800_000, "episode", EPISODE, f"Episode {EPISODE}", "The Daily"
    ),
    _entry("2026-11-20T08:30:15.250Z", None, "track", POLLED, f"Track {POLLED}", None, "Album al1"),
]


async def test_json_is_every_play_oldest_first_in_the_import_format(
    history: Database, api: httpx.AsyncClient
) -> None:
    response = await api.get("/users/ann/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert 'filename="ann-history.json"' in response.headers["content-disposition"]
    assert response.json() == EXPECTED


async def test_the_json_export_imports_again_as_the_same_history(
    history: Database, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    exported = (await api.get("/users/ann/export")).content
    path = tmp_path / "Streaming_History_Audio_copy.json"
    path.write_bytes(exported)
    report = import_history(history, "bob", [path], show_progress=False)
    assert (report.imported, sum(report.skipped.values())) == (4, 0)
    assert (await api.get("/users/bob/export")).json() == EXPECTED


async def test_pages_are_merged_in_time_order_whatever_their_size(
    history: Database, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web.export.PAGE", 1)
    assert (await api.get("/users/ann/export")).json() == EXPECTED
    monkeypatch.setattr("web.export.PAGE", 2)
    assert (await api.get("/users/ann/export")).json() == EXPECTED


async def test_csv_is_one_row_per_play(history: Database, api: httpx.AsyncClient) -> None:
    response = await api.get("/users/ann/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(CSV_HEADER)
    assert rows[2] == [
        "2019-03-01T11:00:00Z",
        "12000",
        f"Song {TRACK_B}",
        "Björk",
        "Post",
        f"spotify:track:{TRACK_B}",
        "",
        "",
        "",
    ]
    assert rows[3][:3] == ["2019-03-01T11:00:00Z", "1800000", ""]
    assert rows[3][6:] == [f"Episode {EPISODE}", "The Daily", f"spotify:episode:{EPISODE}"]
    assert rows[4][:2] == ["2026-11-20T08:30:15.250Z", ""]
    assert len(rows) == 5


async def test_a_user_without_plays_exports_an_empty_history(
    history: Database, api: httpx.AsyncClient
) -> None:
    assert (await api.get("/users/bob/export")).json() == []
    text = (await api.get("/users/bob/export", params={"format": "csv"})).text
    assert text.splitlines() == [",".join(CSV_HEADER)]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/users/ann/export?format=xml", 400, id="unknown-format"),
        pytest.param("/users/ann/export?format=csv&format=json", 400, id="format-twice"),
        pytest.param("/users/nobody/export", 404, id="unknown-user"),
        pytest.param("/users/a%20b/export", 400, id="bad-username"),
    ],
)
async def test_bad_requests_are_problem_documents(
    history: Database, api: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await api.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_export_needs_an_api_key_when_keys_are_set(
    history: Database, app_client: Callable[..., Any]
) -> None:
    client = await app_client(api_keys=(Secret("key-one"),))
    assert (await client.get("/users/ann/export")).status_code == 401
    response = await client.get("/users/ann/export", headers={"Authorization": "Bearer key-one"})
    assert response.status_code == 200


async def test_openapi_documents_the_export(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    operation = document["paths"]["/users/{username}/export"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["username", "format"]
    assert operation["security"] == [{"apiKey": []}]


async def test_the_openapi_document_names_both_formats_of_the_export(
    api: httpx.AsyncClient,
) -> None:
    """schemathesis found the CSV answer off the document, which named JSON alone."""
    document = (await api.get("/openapi.json")).json()
    answer = document["paths"]["/users/{username}/export"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "text/csv"}
