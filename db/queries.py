"""Read side of the API: snapshot look-ups that return plain dicts, never rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import peewee as pw

from db.models import (
    Album,
    Artist,
    Cluster,
    ClusterMember,
    Recommendation,
    Snapshot,
    TopItem,
    Track,
    TrackArtist,
    User,
)
from db.users import UnknownUser

NEAREST_DATES = 3


class SnapshotNotFound(LookupError):
    """The user has no complete snapshot on that date; `nearest` lists dates that have one."""

    def __init__(self, username: str, date: dt.date | None, nearest: list[dt.date]) -> None:
        self.username = username
        self.date = date
        self.nearest = nearest
        super().__init__(self._message())

    def _message(self) -> str:
        wanted = f"on {self.date.isoformat()}" if self.date else "yet"
        message = f"{self.username} has no snapshot {wanted}"
        if self.nearest:
            dates = ", ".join(d.isoformat() for d in self.nearest)
            message += f"; nearest dates with one: {dates}"
        return message


@dataclasses.dataclass(frozen=True)
class SnapshotRef:
    """Identity of one complete snapshot: enough to answer conditional requests."""

    id: int
    username: str
    date: dt.date
    generated_at: dt.datetime
    recommendation_source: str | None
    features_source: str | None
    clusters_note: str | None


def user_id_of(username: str) -> int:
    user_id = User.select(User.id).where(User.username == username).scalar()
    if user_id is None:
        raise UnknownUser(username)
    return int(user_id)


def _complete(user_id: int) -> pw.ModelSelect[Snapshot]:
    return Snapshot.select().where(
        (Snapshot.user == user_id) & (Snapshot.status == Snapshot.COMPLETE)
    )


def _nearest_dates(user_id: int, date: dt.date) -> list[dt.date]:
    dates = [row.date for row in _complete(user_id).select(Snapshot.date)]
    dates.sort(key=lambda d: (abs((d - date).days), d))
    return sorted(dates[:NEAREST_DATES])


def find_snapshot(username: str, date: dt.date | None) -> SnapshotRef:
    """The user's complete snapshot on `date`, or their latest when `date` is None."""
    user_id = user_id_of(username)
    query = _complete(user_id)
    if date is None:
        snapshot = query.order_by(Snapshot.date.desc()).first()
    else:
        snapshot = query.where(Snapshot.date == date).first()
    if snapshot is None:
        nearest = _nearest_dates(user_id, date) if date else []
        raise SnapshotNotFound(username, date, nearest)
    return SnapshotRef(
        id=snapshot.id,
        username=username,
        date=snapshot.date,
        generated_at=snapshot.generated_at,
        recommendation_source=snapshot.recommendation_source,
        features_source=snapshot.features_source,
        clusters_note=snapshot.clusters_note,
    )


def list_snapshots(username: str) -> list[dict[str, Any]]:
    """Every snapshot of the user, newest first."""
    user_id = user_id_of(username)
    query = (
        Snapshot.select(Snapshot.date, Snapshot.status, Snapshot.generated_at, Snapshot.skipped)
        .where(Snapshot.user == user_id)
        .order_by(Snapshot.date.desc())
    )
    return [
        {
            "date": row.date.isoformat(),
            "status": row.status,
            "generated_at": iso_utc(row.generated_at),
            # None for snapshots taken before schema 6 recorded it.
            "skipped": row.skipped,
        }
        for row in query
    ]


def iso_utc(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def artists_by_track(track_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """Each track's artists in credit order."""
    query = (
        TrackArtist.select(TrackArtist.track, Artist.id, Artist.name)
        .join(Artist)
        .where(TrackArtist.track.in_(list(track_ids)))
        .order_by(TrackArtist.track, TrackArtist.position)
        .tuples()
    )
    artists: dict[str, list[dict[str, str]]] = defaultdict(list)
    for track_id, artist_id, name in cast(Iterable[tuple[str, str, str]], query):
        artists[track_id].append({"id": artist_id, "name": name})
    return artists


# Read as plain tuples: building model instances was most of a response's cost (BENCHMARKS.md).
TRACK_COLUMNS = (Track.id, Track.name, Track.uri, Track.duration_ms, Album.id, Album.name)


def with_track_columns(query: pw.ModelSelect[Any]) -> pw.ModelSelect[Any]:
    """`query`, joined to its track and album, selecting TRACK_COLUMNS last, as tuples."""
    return query.select_extend(*TRACK_COLUMNS).join(Track).join(Album, pw.JOIN.LEFT_OUTER).tuples()


def track_dict(columns: Sequence[Any], artists: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """A track as the API shows it, from the TRACK_COLUMNS of a row."""
    track_id, name, uri, duration_ms, album_id, album_name = columns
    return {
        "id": track_id,
        "name": name,
        "uri": uri,
        "duration_ms": duration_ms,
        "artists": artists.get(track_id, []),
        "album": {"id": album_id, "name": album_name} if album_id else None,
    }


def with_tracks(rows: Sequence[Sequence[Any]]) -> list[tuple[Sequence[Any], dict[str, Any]]]:
    """Split rows ending in TRACK_COLUMNS into (leading columns, track as the API shows it)."""
    width = len(TRACK_COLUMNS)
    artists = artists_by_track(row[-width] for row in rows)
    return [(row[:-width], track_dict(row[-width:], artists)) for row in rows]


def recommendations(snapshot_id: int) -> list[dict[str, Any]]:
    """The snapshot's recommendations in rank order, each with its track."""
    query = with_track_columns(
        Recommendation.select(
            Recommendation.rank,
            Recommendation.reason,
            Recommendation.source,
            Recommendation.new_artist,
        )
        .where(Recommendation.snapshot == snapshot_id)
        .order_by(Recommendation.rank)
    )
    return [
        {"rank": rank, "track": track, "reason": reason, "source": source, "new_artist": new}
        for (rank, reason, source, new), track in with_tracks(list(query))
    ]


def recommendation_mix(picks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The list's novelty (share of picks by artists new to the user) and its source mix."""
    flags = [pick["new_artist"] for pick in picks if pick.get("new_artist") is not None]
    sources = Counter(pick["source"] for pick in picks if pick.get("source"))
    return {
        "novelty": round(sum(flags) / len(flags), 4) if flags else None,
        "source_mix": dict(sorted(sources.items(), key=lambda item: (-item[1], item[0]))),
    }


def clusters(snapshot_id: int) -> list[dict[str, Any]]:
    """The snapshot's clusters with their member track ids."""
    rows = list(Cluster.select().where(Cluster.snapshot == snapshot_id).order_by(Cluster.position))
    members: dict[int, list[str]] = defaultdict(list)
    member_query = (
        ClusterMember.select(ClusterMember.cluster, ClusterMember.track)
        .where(ClusterMember.cluster.in_([row.id for row in rows]))
        .order_by(ClusterMember.track)
        .tuples()
    )
    for cluster_id, track_id in cast(Iterable[tuple[int, str]], member_query):
        members[cluster_id].append(track_id)
    return [
        {
            "id": row.position,
            "label": row.label,
            "size": row.size,
            "centroid": row.centroid,
            "track_ids": members[row.id],
        }
        for row in rows
    ]


def top_items(snapshot_id: int, item_type: str, time_range: str) -> list[dict[str, Any]]:
    """Top tracks or artists of one time range, in Spotify's order."""
    return top_items_by_range(snapshot_id, item_type).get(time_range, [])


def top_items_by_range(snapshot_id: int, item_type: str) -> dict[str, list[dict[str, Any]]]:
    """Top tracks or artists of every time range, each in Spotify's order, in one query."""
    base = (
        TopItem.select(TopItem.time_range, TopItem.rank)
        .where((TopItem.snapshot == snapshot_id) & (TopItem.item_type == item_type))
        .order_by(TopItem.time_range, TopItem.rank)
    )
    ranges: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if item_type == "artists":
        for row in base.select_extend(Artist).join(Artist):
            ranges[row.time_range].append(_top_artist(row.rank, row.artist))
        return ranges
    for (time_range, rank), track in with_tracks(list(with_track_columns(base))):
        ranges[time_range].append({"rank": rank, **track})
    return ranges


def _top_artist(rank: int, artist: Artist | None) -> dict[str, Any]:
    # An inner join filled it; the column is nullable only for the other item type.
    assert artist is not None
    return {
        "rank": rank,
        "id": artist.id,
        "name": artist.name,
        "genres": artist.genres,
        "popularity": artist.popularity,
        "image_url": artist.image_url,
    }
