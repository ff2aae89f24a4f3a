"""Deterministic identifiers in Spotify's formats, derived from the world's seed."""

from __future__ import annotations

import hashlib
import uuid

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RECCOBEATS_NAMESPACE = uuid.UUID("6f1c6a52-94c1-4c3e-9d0a-2a4f0b6f1e7d")


def _digest(*parts: object, size: int = 17) -> int:
    text = ":".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=size).digest(), "big")


def spotify_id(seed: int, kind: str, number: int) -> str:
    """A 22-character base-62 id, unique per (seed, kind, number)."""
    value = _digest(seed, kind, number)
    chars = []
    for _ in range(22):
        value, rest = divmod(value, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


def hex_token(seed: int, kind: str, length: int = 32) -> str:
    """A hex string such as a client id, stable for the seed."""
    return f"{_digest(seed, kind, size=32):064x}"[:length]


def fraction(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for the given parts."""
    return _digest(*parts, size=8) / 2**64


def reccobeats_id(track_id: str) -> str:
    """The UUID ReccoBeats gives a Spotify track (stable, so tests can predict it)."""
    return str(uuid.uuid5(_RECCOBEATS_NAMESPACE, track_id))


def reccobeats_artist_id(artist_id: str) -> str:
    """The UUID ReccoBeats gives a Spotify artist."""
    return str(uuid.uuid5(_RECCOBEATS_NAMESPACE, f"artist:{artist_id}"))
