"""The co-listening index answers as the plain definition does, on random small instances."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.recommend.co_listening import CoListening

TRACKS = [f"t{n}" for n in range(8)] + ["T9", "a", "Z"]  # ids whose order by id is not by length
Listening = dict[int, frozenset[str]]


def reference(
    listening: Listening, user_id: int, own: frozenset[str], most: int | None
) -> list[tuple[str, int, str]]:
    """The definition, one other user at a time."""
    support: dict[str, int] = defaultdict(int)
    named: dict[str, str] = {}
    for other, tracks in listening.items():
        shared = own & tracks
        if other == user_id or not shared:
            continue
        for track in tracks - own:
            support[track] += 1
            named[track] = min(named.get(track, min(shared)), min(shared))
    rows = [(track, support[track], named[track]) for track in sorted(support)]
    if most is None:
        return rows
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:most]


listenings = st.dictionaries(
    st.integers(1, 6), st.frozensets(st.sampled_from(TRACKS), max_size=6), max_size=6
)


@settings(max_examples=100, deadline=None)
@given(
    listening=listenings,
    user_id=st.integers(1, 7),
    own=st.frozensets(st.sampled_from([*TRACKS, "unknown"]), max_size=5),
    most=st.none() | st.integers(1, 4),
)
def test_the_index_answers_as_the_definition(
    listening: Listening, user_id: int, own: frozenset[str], most: int | None
) -> None:
    pairs = [(user, track) for user, tracks in listening.items() for track in sorted(tracks)]
    index = CoListening.of(pairs)
    assert index.co_listened(user_id, own, most) == reference(listening, user_id, own, most)


def test_an_empty_instance_has_nothing_co_listened() -> None:
    assert CoListening.of([]).co_listened(1, {"t1"}) == []
