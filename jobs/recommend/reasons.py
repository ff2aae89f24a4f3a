"""One readable reason per pick: is it new, which mix it sounds like, which source found it."""

from __future__ import annotations

from collections.abc import Mapping

from jobs.recommend.protocol import (
    ARTISTS,
    CO_LISTENERS,
    COLLABORATORS,
    CSV,
    RECCOBEATS,
    SEARCH,
    SPOTIFY,
)

_PHRASES = {
    SPOTIFY: "Spotify recommends it from {seed}",
    RECCOBEATS: "ReccoBeats suggests it from {seed}",
    CSV: "{article} {seed} track from the wider catalogue",
    ARTISTS: "because you listen to {seed}",
    CO_LISTENERS: "listeners of '{seed}' also play it",
    COLLABORATORS: "{seed}",
    SEARCH: "found searching {seed}",
}
MAX_PHRASES = 2


def _phrase(origin: str, seed: str) -> str:
    # Genres are the CSV's words: "an indie folk track", "a house track".
    article = "an" if seed[:1].casefold() in "aeiou" else "a"
    return _PHRASES[origin].format(seed=seed, article=article)


def pick_reason(new_artist: bool, mix: str | None, origins: Mapping[str, str]) -> str:
    """E.g. "new to you: sounds like your 'mellow' mix; listeners of 'X' also play it"."""
    parts = [f"sounds like your '{mix}' mix"] if mix else []
    parts += [_phrase(o, s) for o, s in list(origins.items())[:MAX_PHRASES] if s]
    text = "; ".join(parts) or "picked for you"
    return f"new to you: {text}" if new_artist else text
