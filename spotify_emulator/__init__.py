"""A faithful local Spotify (accounts, Web API in 2026 development or extended mode, ReccoBeats)
over a deterministic synthetic world, with fault injection, for tests and the demo.
"""

from __future__ import annotations

from spotify_emulator.app import create_app
from spotify_emulator.csv_export import write_features_csv
from spotify_emulator.faults import Faults, RequestRecord
from spotify_emulator.history_export import HistoryExport, generate_history
from spotify_emulator.ids import reccobeats_id
from spotify_emulator.model import Album, Artist, EmulatedUser, Playlist, Track
from spotify_emulator.server import EmulatorServer
from spotify_emulator.world import World

__all__ = [
    "Album",
    "Artist",
    "EmulatedUser",
    "EmulatorServer",
    "Faults",
    "HistoryExport",
    "Playlist",
    "RequestRecord",
    "Track",
    "World",
    "create_app",
    "generate_history",
    "reccobeats_id",
    "write_features_csv",
]
