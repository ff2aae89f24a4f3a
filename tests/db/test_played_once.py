"""db.history.tracks_played_once: per artist, the records a user played a single time."""

from __future__ import annotations

import datetime as dt

from db.database import Database
from db.history import tracks_played_once
from db.models import Play
from tests.factories import make_track, make_user

START = dt.datetime(2026, 11, 1, 12, 0)


def test_counts_tracks_played_once_per_artist_leaving_out_skips_and_other_users(
    database: Database,
) -> None:
    def write_and_read() -> tuple[dict[str, int], dict[str, int]]:
        ann, bob = make_user("ann"), make_user("bob")
        make_track("fav", ["fan"])
        make_track("once", ["fan"])
        make_track("duet", ["wanderer", "fan"])
        make_track("skipped", ["wanderer"])
        plays = [("fav", False), ("fav", False), ("once", False), ("duet", False)]
        # A skip is no play: "skipped" played in full once counts, "once" skipped once more
        # still counts as once.
        plays += [("skipped", True), ("skipped", False), ("once", True)]
        for minute, (track, short) in enumerate(plays):
            when = START + dt.timedelta(minutes=minute)
            Play.create(user=ann, track=track, played_at=when, short=short)
        Play.create(user=bob, track="fav", played_at=START)
        return tracks_played_once(ann.id), tracks_played_once(bob.id)

    ann, bob = database.run_sync(write_and_read)

    # "duet" is wanderer's record with fan as a guest: it counts for wanderer alone.
    assert ann == {"fan": 1, "wanderer": 2}
    assert bob == {"fan": 1}


def test_an_artist_whose_records_were_all_played_again_counts_zero(database: Database) -> None:
    # The ranking tells an artist whose own records the user played from one met only as a
    # guest on another's record: both have none played once, only the first is listed.
    def write_and_read() -> dict[str, int]:
        ann = make_user("ann")
        make_track("loop", ["looper", "guest"])
        for minute in range(2):
            Play.create(user=ann, track="loop", played_at=START + dt.timedelta(minutes=minute))
        return tracks_played_once(ann.id)

    assert database.run_sync(write_and_read) == {"looper": 0}
