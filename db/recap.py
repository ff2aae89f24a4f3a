"""The yearly recap: a year of stored history summed up, and the taste its snapshots found.

A past year's recap is computed on every request, not kept: it changes after more than an
import. A snapshot links the export's artist and album names to catalogue ids
(`db.names.link_names`), and so does an artist-profile job (`db.artists.link_searched_names`),
and which names are linked decides what the year's top artists, albums and discoveries count
as one; `snapshot delete` changes the year's cluster labels. These are updates in other
processes (the CLI, the scheduler), which no count or highest id of a table reveals, so a
correct cache needs a change stamp written by each of those writers first.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, cast

from db.listening_stats import Listening, StatsRange, discoveries, gaps, when
from db.models import Cluster, Snapshot

TOP_FIVE = 5


def year_range(user_id: int, zone: Any, year: int) -> StatsRange:
    """The local calendar year, top lists of five."""
    return StatsRange(user_id, zone, dt.date(year, 1, 1), dt.date(year, 12, 31), top=TOP_FIVE)


def cluster_labels(user_id: int, year: int) -> dict[str, Any]:
    """The labels of the clusters the year's snapshots found, the most recurrent first."""
    query = (
        Cluster.select(Cluster.label, Snapshot.id)
        .join(Snapshot)
        .where(
            (Snapshot.user == user_id)
            & (Snapshot.status == Snapshot.COMPLETE)
            & (Snapshot.date >= dt.date(year, 1, 1))
            & (Snapshot.date <= dt.date(year, 12, 31))
        )
        .tuples()
    )
    rows = list(cast(Iterable[tuple[str, int]], query))
    seen = Counter(label for label, _ in set(rows))
    ranked = sorted(seen.items(), key=lambda item: (-item[1], item[0]))
    return {
        "snapshots": len({snapshot for _, snapshot in rows}),
        "labels": [{"label": label, "snapshots": count} for label, count in ranked],
    }


def _top_month(per_day: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    months: Counter[str] = Counter()
    plays: Counter[str] = Counter()
    for entry in per_day:
        months[entry["date"][:7]] += entry["minutes"]
        plays[entry["date"][:7]] += entry["plays"]
    if not any(plays.values()):
        return None
    month = max(sorted(months), key=lambda key: (months[key], plays[key]))
    return {"month": month, "minutes": round(months[month], 1), "plays": plays[month]}


def _top_day(per_day: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    played = [entry for entry in per_day if entry["plays"]]
    if not played:
        return None
    best = max(played, key=lambda entry: (entry["minutes"], entry["plays"]))
    return {"date": best["date"], "minutes": best["minutes"], "plays": best["plays"]}


def yearly_recap(span: StatsRange, year: int) -> dict[str, Any]:
    """Minutes, the top five of each kind, the top month and day, discoveries, taste."""
    listening = Listening.read(span)
    music, podcasts = listening.music(), listening.podcasts()
    _, per_day = when(span)
    return {
        "minutes": {
            "total": round(music["minutes"] + podcasts["minutes"], 1),
            "music": music["minutes"],
            "podcasts": podcasts["minutes"],
        },
        "plays": {"music": music["plays"], "podcasts": podcasts["plays"]},
        "distinct": {
            "tracks": music["distinct_tracks"],
            "artists": music["distinct_artists"],
            "albums": music["distinct_albums"],
            "shows": podcasts["distinct_shows"],
        },
        "top": {kind: ranked["by_plays"] for kind, ranked in listening.top().items()},
        "top_month": _top_month(per_day),
        "most_played_day": _top_day(per_day),
        "discoveries": discoveries(span, shown=TOP_FIVE),
        "clusters": cluster_labels(span.user_id, year),
        "gaps": gaps(span),
    }
