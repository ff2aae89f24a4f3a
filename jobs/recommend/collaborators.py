"""Source `collaborators`: artists credited on the records of artists the user knows.

Album track lists still name every artist in 2026, so a featured guest is a lead to someone
new whose sound the user already met on a record they play.
"""

from __future__ import annotations

from db import catalogue
from db.database import Database
from jobs.recommend.artists import catalogue_candidates, refresh_catalogues
from jobs.recommend.protocol import COLLABORATORS, Candidate, Taste
from spotify_client import SpotifyClient

HOST_ARTISTS = 24  # the best-liked artists whose records are searched for guests
GUESTS = 12  # guests whose own catalogues are fetched


class CollaboratorsSource:
    name = COLLABORATORS

    def __init__(self, database: Database, spotify: SpotifyClient) -> None:
        self._database = database
        self._spotify = spotify

    def available(self) -> bool:
        return True

    async def candidates(self, taste: Taste) -> list[Candidate]:
        hosts = taste.ranked_artists[:HOST_ARTISTS]
        await refresh_catalogues(self._database, self._spotify, hosts)
        found = await self._database.run(catalogue.collaborators, hosts)
        guests = [g for g in found if g not in taste.affinity][:GUESTS]
        if not guests:
            return []
        await refresh_catalogues(self._database, self._spotify, guests)
        tracks = await self._database.run(catalogue.catalogue_tracks, guests)
        fresh = [t for t in tracks if t["id"] not in taste.own_track_ids]
        host_names = {g: taste.artist_names.get(found[g], found[g]) for g in guests}
        return [
            _credited(candidate, host_names)
            for candidate in catalogue_candidates(fresh, COLLABORATORS, taste.affinity)
        ]


def _credited(candidate: Candidate, host_names: dict[str, str]) -> Candidate:
    guest = next((i for i, a in enumerate(candidate.artist_ids) if a in host_names), 0)
    host = host_names.get(candidate.artist_ids[guest], "") if candidate.artist_ids else ""
    name = candidate.artist_names[guest] if candidate.artist_names else ""
    seed = f"{name} is credited on {host}'s records" if host else name
    return Candidate(
        candidate.track_id,
        candidate.artist_ids,
        candidate.artist_names,
        candidate.origin,
        seed,
    )
