"""Spotify's published object shapes, rendered from the world for one mode.

In development mode the fields Spotify removed in 2026 are left out, not set to null, as
the real API does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from spotify_emulator.ids import hex_token
from spotify_emulator.model import (
    Album,
    Artist,
    EmulatedUser,
    Episode,
    LocalTrack,
    Playlist,
    Show,
    Track,
)
from spotify_emulator.oddities import Oddities
from spotify_emulator.world import World

EXTENDED = "extended"
DEVELOPMENT = "development"
MODES = (EXTENDED, DEVELOPMENT)
MARKETS = ["GB", "US", "DE", "BR", "SE", "NG", "TW", "IE"]

JSON = dict[str, Any]


def iso(moment: dt.datetime) -> str:
    """Spotify's timestamp format: UTC with milliseconds and a Z."""
    return (
        moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclasses.dataclass(frozen=True)
class Renderer:
    """Renders world objects with links under `api` (the emulator's /v1 URL)."""

    world: World
    api: str
    mode: str
    oddities: Oddities = dataclasses.field(default_factory=Oddities)

    @property
    def extended(self) -> bool:
        """Whether the app has extended quota (every field present)."""
        return self.mode == EXTENDED

    def _common(self, kind: str, item_id: str, name: str) -> JSON:
        return {
            "id": item_id,
            "name": name,
            "type": kind,
            "uri": f"spotify:{kind}:{item_id}",
            "href": f"{self.api}/{kind}s/{item_id}",
            "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
        }

    def _images(self, item_id: str) -> list[JSON]:
        digest = hex_token(self.world.seed, f"image:{item_id}", 40)
        return [
            {
                "url": f"https://i.scdn.co/image/ab67616d0000{size:04x}{digest}",
                "height": size,
                "width": size,
            }
            for size in (640, 300, 64)
        ]

    def simple_artist(self, artist: Artist) -> JSON:
        """SimplifiedArtistObject."""
        return self._common("artist", artist.id, artist.name)

    def artist(self, artist: Artist) -> JSON:
        """ArtistObject."""
        data = {**self.simple_artist(artist), "images": self._images(artist.id)}
        if self.extended:
            data["genres"] = list(artist.genres)
            data["popularity"] = artist.popularity
            data["followers"] = {"href": None, "total": artist.followers}
        return data

    def simple_album(self, album: Album) -> JSON:
        """SimplifiedAlbumObject."""
        data = {
            **self._common("album", album.id, album.name),
            "album_type": album.album_type,
            "total_tracks": len(album.track_ids),
            "images": self._images(album.id),
            "release_date": album.release_date,
            "release_date_precision": "day",
            "artists": [self.simple_artist(self.world.artists[a]) for a in album.artist_ids],
        }
        if self.extended:
            data["available_markets"] = MARKETS
        return data

    def album(self, album: Album) -> JSON:
        """AlbumObject, with its first 50 tracks embedded as a paging object."""
        tracks_url = f"{self.api}/albums/{album.id}/tracks"
        tracks = {
            "href": f"{tracks_url}?offset=0&limit=50",
            "items": [self.simple_track(self.world.tracks[t]) for t in album.track_ids[:50]],
            "limit": 50,
            "next": f"{tracks_url}?offset=50&limit=50" if len(album.track_ids) > 50 else None,
            "offset": 0,
            "previous": None,
            "total": len(album.track_ids),
        }
        data = {
            **self.simple_album(album),
            "tracks": tracks,
            "external_ids": {"upc": album.upc},
            "copyrights": [{"text": f"(P) {album.release_date[:4]} {album.label}", "type": "P"}],
        }
        if self.extended:
            data["label"] = album.label
            data["popularity"] = album.popularity
        return data

    def simple_track(self, track: Track) -> JSON:
        """SimplifiedTrackObject, as listed by an album."""
        data = {
            **self._common("track", track.id, track.name),
            "artists": [self.simple_artist(self.world.artists[a]) for a in track.artist_ids],
            "disc_number": 1,
            "track_number": track.track_number,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            "is_local": False,
        }
        if self.extended:
            data["available_markets"] = MARKETS
            data["preview_url"] = f"https://p.scdn.co/mp3-preview/{track.id}"
        return data

    def track(self, track: Track) -> JSON:
        """TrackObject."""
        data = {
            **self.simple_track(track),
            "album": self.simple_album(self.world.albums[track.album_id]),
            "external_ids": {"isrc": track.isrc},
        }
        if self.extended:
            data["popularity"] = track.popularity
        return data

    def user(self, user: EmulatedUser) -> JSON:
        """PrivateUserObject (`/me`)."""
        data = {
            **self._common("user", user.id, user.display_name),
            "display_name": user.display_name,
            "account_id": user.account_id,
            "images": [],
        }
        del data["name"]
        if self.extended:
            data.update(email=user.email, country=user.country, product=user.product)
        return data

    def public_user(self, user_id: str) -> JSON:
        """PublicUserObject, as a playlist's owner."""
        data = self.user(self.world.user(user_id))
        return {
            key: data[key] for key in ("id", "type", "uri", "href", "external_urls", "display_name")
        }

    def simple_playlist(self, playlist: Playlist) -> JSON:
        """SimplifiedPlaylistObject."""
        return {
            **self._common("playlist", playlist.id, playlist.name),
            "description": playlist.description,
            "collaborative": False,
            "public": True,
            "owner": self.public_user(playlist.owner_id),
            "images": self._images(playlist.id),
            "snapshot_id": hex_token(self.world.seed, f"snapshot:{playlist.id}"),
            "items": {
                "href": f"{self.api}/playlists/{playlist.id}/items",
                "total": len(self.oddities.playlist(self.world, playlist)),
            },
        }

    def playlist_item(self, playlist: Playlist, key: str, added_at: dt.datetime) -> JSON:
        """PlaylistTrackObject, 2026 edition: the track (or episode) is under `item`."""
        return {
            "added_at": iso(added_at),
            "added_by": self.public_user(playlist.owner_id),
            "is_local": key in self.world.local_files,
            "item": self.playable(key),
        }

    def playable(self, key: str) -> JSON:
        """A track, an episode or a local file, as lists that mix them render each."""
        if key in self.world.tracks:
            return self.track(self.world.tracks[key])
        if key in self.world.episodes:
            return self.episode(self.world.episodes[key])
        return self.local_track(self.world.local_files[key])

    def local_track(self, local: LocalTrack) -> JSON:
        """A local file: a TrackObject with `is_local`, no ids and no links."""
        unlinked: JSON = {"external_urls": {}, "href": None, "id": None, "uri": None}
        data: JSON = {
            **unlinked,
            "name": local.name,
            "type": "track",
            "uri": local.uri,
            "album": {
                **unlinked,
                "name": local.album,
                "type": "album",
                "album_type": None,
                "artists": [],
                "images": [],
                "release_date": None,
                "release_date_precision": None,
            },
            "artists": [{**unlinked, "name": local.artist, "type": "artist"}],
            "disc_number": 0,
            "track_number": 0,
            "duration_ms": local.duration_ms,
            "explicit": False,
            "external_ids": {},
            "is_local": True,
        }
        if self.extended:
            data.update(available_markets=[], popularity=0, preview_url=None)
        return data

    def simple_show(self, show: Show) -> JSON:
        """SimplifiedShowObject."""
        data = {
            **self._common("show", show.id, show.name),
            "publisher": show.publisher,
            "description": show.description,
            "html_description": f"<p>{show.description}</p>",
            "media_type": show.media_type,
            "explicit": False,
            "images": self._images(show.id),
            "is_externally_hosted": False,
            "languages": ["en"],
            "total_episodes": len(show.episode_ids),
            "copyrights": [],
        }
        if self.extended:
            data["available_markets"] = MARKETS
        return data

    def episode(self, episode: Episode) -> JSON:
        """EpisodeObject: where a track would be, an episode carries a `show`, not an album."""
        data = {
            **self._common("episode", episode.id, episode.name),
            "description": episode.description,
            "html_description": f"<p>{episode.description}</p>",
            "duration_ms": episode.duration_ms,
            "explicit": episode.explicit,
            "images": self._images(episode.id),
            "is_externally_hosted": False,
            "is_playable": True,
            "language": "en",
            "languages": ["en"],
            "release_date": episode.release_date,
            "release_date_precision": "day",
            "show": self.simple_show(self.world.shows[episode.show_id]),
        }
        if self.extended:
            data["audio_preview_url"] = f"https://p.scdn.co/mp3-preview/{episode.id}"
        return data

    def audio_features(self, track_id: str) -> JSON:
        """AudioFeaturesObject."""
        return {
            **self.world.features[track_id],
            "type": "audio_features",
            "id": track_id,
            "uri": f"spotify:track:{track_id}",
            "track_href": f"{self.api}/tracks/{track_id}",
            "analysis_url": f"{self.api}/audio-analysis/{track_id}",
            "duration_ms": self.world.tracks[track_id].duration_ms,
        }
