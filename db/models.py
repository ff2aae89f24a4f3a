"""Peewee models. Rows never leave `db/`: callers get dicts from `db.queries`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee as pw

from db.database import database_proxy
from db.job_status import JobStatus


def utcnow() -> dt.datetime:
    """Naive UTC now: both databases store timestamps without a zone."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` as the databases store it: UTC without a zone (a naive value is taken as UTC)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def read_timestamp(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp a query answered: SQLite answers aggregates of timestamps as text."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


class JSONField(pw.TextField):
    """JSON kept as text, so SQLite and PostgreSQL share one code path."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class User(BaseModel):
    id = pw.AutoField()
    ACTIVE = "active"
    REAUTH_REQUIRED = "reauth_required"
    # Spotify refuses the user for a reason only a person can fix (status_reason says which).
    NEEDS_ATTENTION = "needs_attention"
    DISABLED = "disabled"
    STATUSES = (ACTIVE, REAUTH_REQUIRED, NEEDS_ATTENTION, DISABLED)
    # Whose nightly snapshot is taken: a fix on Spotify's side takes effect at once.
    SNAPSHOTTED = (ACTIVE, NEEDS_ATTENTION)

    username = pw.CharField(max_length=64, unique=True)
    spotify_account_id = pw.CharField(max_length=128, null=True, unique=True)
    display_name = pw.CharField(max_length=256, null=True)
    refresh_token_encrypted = pw.TextField(null=True)
    token_obtained_at = pw.DateTimeField(null=True)
    status = pw.CharField(max_length=32, default=ACTIVE, index=True)
    # IANA zone in which the user's statistics count days and hours (`users set --timezone`).
    timezone = pw.CharField(max_length=64, default="UTC")
    # Why the status is what it is, and what to do (NULL while active).
    status_reason = pw.TextField(null=True)
    # Whether anyone may see the user's pages; private until `users set --public`.
    # A default in the schema too, as the migration that added it has: rows written by SQL
    # alone (or by older code during an upgrade) are private.
    public = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])
    # Sessions started before this moment are over (the user signed out, everywhere).
    signed_out_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Artist(BaseModel):
    id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=512)
    genres = JSONField(null=True)
    popularity = pw.IntegerField(null=True)
    image_url = pw.TextField(null=True)
    catalogue_fetched_at = pw.DateTimeField(null=True)
    # When GET /artists/{id}/profile last fetched the artist and every album (a week's cache).
    profile_fetched_at = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


class Album(BaseModel):
    artist_id: str | None
    id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=512)
    artist = pw.ForeignKeyField(Artist, null=True, backref="albums", on_delete="SET NULL")
    release_date = pw.CharField(max_length=16, null=True)
    image_url = pw.TextField(null=True)
    tracks_fetched_at = pw.DateTimeField(null=True)


class Track(BaseModel):
    album_id: str | None
    id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=512)
    uri = pw.CharField(max_length=128)
    duration_ms = pw.IntegerField(null=True)
    album = pw.ForeignKeyField(Album, null=True, backref="tracks", on_delete="SET NULL")
    popularity = pw.IntegerField(null=True)
    isrc = pw.CharField(max_length=32, null=True)
    explicit = pw.BooleanField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


class TrackArtist(BaseModel):
    track_id: str
    artist_id: str
    track = pw.ForeignKeyField(Track, backref="artist_links", on_delete="CASCADE")
    artist = pw.ForeignKeyField(Artist, backref="track_links", on_delete="CASCADE")
    position = pw.SmallIntegerField(default=0)

    class Meta:
        primary_key = pw.CompositeKey("track", "artist")


class AudioFeatures(BaseModel):
    track_id: str
    track = pw.ForeignKeyField(Track, primary_key=True, backref="features", on_delete="CASCADE")
    danceability = pw.FloatField()
    energy = pw.FloatField()
    key = pw.IntegerField()
    loudness = pw.FloatField()
    mode = pw.IntegerField()
    speechiness = pw.FloatField()
    acousticness = pw.FloatField()
    instrumentalness = pw.FloatField()
    liveness = pw.FloatField()
    valence = pw.FloatField()
    tempo = pw.FloatField()
    time_signature = pw.IntegerField()
    source = pw.CharField(max_length=32)
    fetched_at = pw.DateTimeField(default=utcnow)


class Snapshot(BaseModel):
    id = pw.AutoField()
    user_id: int
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"

    user = pw.ForeignKeyField(User, backref="snapshots", on_delete="CASCADE")
    date = pw.DateField()
    status = pw.CharField(max_length=16, default=PENDING)
    # Which source served each part, e.g. {"recommendations": "local", "features": "csv"}.
    sources = JSONField(default=dict)
    recommendation_source = pw.CharField(max_length=32, null=True)
    features_source = pw.CharField(max_length=32, null=True)
    clusters_note = pw.TextField(null=True)
    # What Spotify sent that was left out, {endpoint: {reason: count}} (NULL before schema 6).
    skipped = JSONField(null=True)
    generated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "date"), True),)


class TopItem(BaseModel):
    id = pw.AutoField()
    snapshot_id: int
    track_id: str | None
    artist_id: str | None
    snapshot = pw.ForeignKeyField(Snapshot, backref="top_items", on_delete="CASCADE")
    item_type = pw.CharField(max_length=8)
    time_range = pw.CharField(max_length=16)
    rank = pw.SmallIntegerField()
    track = pw.ForeignKeyField(Track, null=True, on_delete="CASCADE")
    artist = pw.ForeignKeyField(Artist, null=True, on_delete="CASCADE")

    class Meta:
        indexes = ((("snapshot", "item_type", "time_range", "rank"), True),)


class SnapshotTrack(BaseModel):
    """Tracks the user had in a snapshot beyond top items: recent plays and saved tracks."""

    snapshot_id: int
    track_id: str
    RECENT = "recent"
    SAVED = "saved"

    snapshot = pw.ForeignKeyField(Snapshot, backref="tracks", on_delete="CASCADE")
    kind = pw.CharField(max_length=8)
    track = pw.ForeignKeyField(Track, on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("snapshot", "kind", "track")


class Play(BaseModel):
    """Music history: polled (Spotify keeps only the last 50) or imported from the user's export."""

    id = pw.AutoField()
    user_id: int
    track_id: str
    POLLED = "polled"
    IMPORTED = "imported"
    SHORT_MS = 30_000

    user = pw.ForeignKeyField(User, backref="plays", on_delete="CASCADE")
    track = pw.ForeignKeyField(Track, on_delete="CASCADE")
    # When the play ended (Spotify's `played_at`, the export's `ts`).
    played_at = pw.DateTimeField()
    # Null for polled plays: Spotify does not say how long those played.
    ms_played = pw.IntegerField(null=True)
    # Played under SHORT_MS: kept so the history is whole, left out of statistics by default.
    short = pw.BooleanField(default=False)
    origin = pw.CharField(max_length=8, default=POLLED)


# A poll sees each play with its exact time; an export row is identified by time and track
# (two rows of one export may end in the same second), so both kinds of writes are idempotent.
Play.add_index(
    Play.index(
        Play.user, Play.played_at, unique=True, where=Play.origin == Play.POLLED, name="play_polled"
    )
)
Play.add_index(
    Play.index(
        Play.user,
        Play.played_at,
        Play.track,
        unique=True,
        where=Play.origin == Play.IMPORTED,
        name="play_imported",
    )
)
Play.add_index(Play.index(Play.user, Play.played_at, name="play_user_time"))


class ArtistName(BaseModel):
    """An artist known only by name (the export has no artist ids); linked once the catalogue
    meets it, so statistics can count it as that artist."""

    id = pw.AutoField()
    artist_id: str | None
    name = pw.CharField(max_length=512, unique=True)
    artist = pw.ForeignKeyField(Artist, null=True, on_delete="SET NULL")


class AlbumName(BaseModel):
    """An album known only by its name and its artist's name, linked like ArtistName."""

    id = pw.AutoField()
    artist_name_id: int
    album_id: str | None
    artist_name = pw.ForeignKeyField(ArtistName, backref="albums", on_delete="CASCADE")
    name = pw.CharField(max_length=512)
    album = pw.ForeignKeyField(Album, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("artist_name", "name"), True),)


class TrackCredit(BaseModel):
    """The artist and album names an export gave a track: all we know until a snapshot meets it."""

    track_id: str
    artist_name_id: int | None
    album_name_id: int | None
    track = pw.ForeignKeyField(Track, primary_key=True, on_delete="CASCADE")
    artist_name = pw.ForeignKeyField(ArtistName, null=True, on_delete="SET NULL")
    album_name = pw.ForeignKeyField(AlbumName, null=True, on_delete="SET NULL")


class Show(BaseModel):
    """A podcast. The export names shows without ids, so the name is the identity."""

    id = pw.AutoField()
    name = pw.CharField(max_length=512, unique=True)


class Episode(BaseModel):
    """A podcast episode: never a track, so music statistics stay music."""

    show_id: int | None
    id = pw.CharField(max_length=64, primary_key=True)
    name = pw.CharField(max_length=512)
    uri = pw.CharField(max_length=128)
    show = pw.ForeignKeyField(Show, null=True, backref="episodes", on_delete="SET NULL")
    duration_ms = pw.IntegerField(null=True)


class EpisodePlay(BaseModel):
    """Podcast history, kept apart from music plays."""

    id = pw.AutoField()
    user_id: int
    episode_id: str
    user = pw.ForeignKeyField(User, backref="episode_plays", on_delete="CASCADE")
    episode = pw.ForeignKeyField(Episode, on_delete="CASCADE")
    played_at = pw.DateTimeField()
    ms_played = pw.IntegerField(null=True)
    origin = pw.CharField(max_length=8, default=Play.IMPORTED)

    class Meta:
        indexes = ((("user", "played_at", "episode"), True),)


class HistoryGap(BaseModel):
    """A window in which plays may be missing: a poll found more new plays than Spotify returns."""

    id = pw.AutoField()
    user_id: int
    user = pw.ForeignKeyField(User, backref="history_gaps", on_delete="CASCADE")
    starts_at = pw.DateTimeField()
    ends_at = pw.DateTimeField()
    found_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "starts_at"), False),)


class Recommendation(BaseModel):
    id = pw.AutoField()
    snapshot_id: int
    track_id: str
    snapshot = pw.ForeignKeyField(Snapshot, backref="recommendations", on_delete="CASCADE")
    rank = pw.SmallIntegerField()
    track = pw.ForeignKeyField(Track, on_delete="CASCADE")
    reason = pw.TextField(null=True)
    # Which candidate source named the pick, and whether its artist was new to the user
    # (NULL on rows written before schema 3).
    source = pw.CharField(max_length=32, null=True)
    new_artist = pw.BooleanField(null=True)

    class Meta:
        indexes = ((("snapshot", "rank"), True),)


class Cluster(BaseModel):
    id = pw.AutoField()
    snapshot_id: int
    snapshot = pw.ForeignKeyField(Snapshot, backref="clusters", on_delete="CASCADE")
    position = pw.SmallIntegerField()
    label = pw.CharField(max_length=256)
    size = pw.IntegerField()
    centroid = JSONField()

    class Meta:
        indexes = ((("snapshot", "position"), True),)


class ClusterMember(BaseModel):
    cluster_id: int
    track_id: str
    cluster = pw.ForeignKeyField(Cluster, backref="members", on_delete="CASCADE")
    track = pw.ForeignKeyField(Track, on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("cluster", "track")


class SnapshotRun(BaseModel):
    """One request to snapshot a date (nightly, CLI or admin API), followed by its jobs."""

    id = pw.CharField(max_length=36, primary_key=True)
    date = pw.DateField()
    trigger = pw.CharField(max_length=16)
    force = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    # A job Spotify's rate limit put back is retried until then; after it, it is given up.
    deadline = pw.DateTimeField(null=True)


class SnapshotRunUser(BaseModel):
    """A user a run asked for: a run's jobs are its date's jobs of these users."""

    run_id: str
    user_id: int
    run = pw.ForeignKeyField(SnapshotRun, backref="members", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("run", "user")


class SnapshotJob(BaseModel):
    """Work queue: one row per user and date, claimed with FOR UPDATE SKIP LOCKED."""

    id = pw.AutoField()
    user_id: int
    run_id: str | None

    user = pw.ForeignKeyField(User, backref="jobs", on_delete="CASCADE")
    date = pw.DateField()
    run = pw.ForeignKeyField(SnapshotRun, null=True, backref="jobs", on_delete="SET NULL")
    status = pw.CharField(max_length=16, default=JobStatus.QUEUED, index=True)
    force = pw.BooleanField(default=False)
    attempts = pw.IntegerField(default=0)
    lease_until = pw.DateTimeField(null=True)
    worker = pw.CharField(max_length=128, null=True)
    error = pw.TextField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)
    # Put back after Spotify's rate limit ran the user out of time: not claimed before then.
    retry_at = pw.DateTimeField(null=True)
    deferrals = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("user", "date"), True),)


class Capability(BaseModel):
    """An endpoint Spotify proved closed to this app, remembered until `expires_at`."""

    name = pw.CharField(max_length=64, primary_key=True)
    available = pw.BooleanField()
    expires_at = pw.DateTimeField()


class OAuthState(BaseModel):
    """Issued login states; a state is consumed once (replay protection)."""

    nonce = pw.CharField(max_length=64, primary_key=True)
    username = pw.CharField(max_length=64, null=True)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)


class ApiKey(BaseModel):
    """A scoped API key: only a hash of it is kept, and the users it may read."""

    id = pw.AutoField()
    name = pw.CharField(max_length=64, null=True, unique=True)
    # SHA-256 of the key, hex: the key itself is shown once, when it is created.
    digest = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    revoked_at = pw.DateTimeField(null=True)


class ApiKeyUser(BaseModel):
    """A user a scoped key covers; removing the user (or the key) removes the row."""

    key_id: int
    user_id: int
    key = pw.ForeignKeyField(ApiKey, backref="covered", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("key", "user")


class SnapshotDocument(BaseModel):
    """One response of a snapshot, rendered once when the snapshot is written.

    Keyed by (user, date, variant) so a read needs no join through the snapshot; the
    snapshot's deletion (a forced redo, a removed user) takes its documents with it.
    """

    id = pw.AutoField()
    snapshot = pw.ForeignKeyField(Snapshot, backref="documents", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    date = pw.DateField()
    variant = pw.CharField(max_length=48)
    format_version = pw.SmallIntegerField()
    etag = pw.CharField(max_length=40)
    body = pw.BlobField()
    gzip = pw.BlobField()
    rendered_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "date", "variant"), True),)


class SchemaVersion(BaseModel):
    version = pw.IntegerField()
    applied_at = pw.DateTimeField(default=utcnow)


ALL_MODELS: tuple[type[BaseModel], ...] = (
    User,
    Artist,
    Album,
    Track,
    TrackArtist,
    AudioFeatures,
    Snapshot,
    TopItem,
    SnapshotTrack,
    Play,
    ArtistName,
    AlbumName,
    TrackCredit,
    Show,
    Episode,
    EpisodePlay,
    HistoryGap,
    Recommendation,
    Cluster,
    ClusterMember,
    SnapshotRun,
    SnapshotRunUser,
    SnapshotJob,
    Capability,
    OAuthState,
    SnapshotDocument,
    ApiKey,
    ApiKeyUser,
    SchemaVersion,
)
