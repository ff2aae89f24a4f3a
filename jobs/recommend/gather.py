"""Ask every source for candidates at once; a failing source is logged and counted, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from jobs.features import FeatureSourceError
from jobs.recommend.protocol import Candidate, CandidateSource, Taste
from spotify_client import QuotaExceeded, SpotifyError

logger = logging.getLogger(__name__)

# What a source may raise that only ends that source's part of this snapshot.
SOFT_FAILURES = (SpotifyError, httpx.HTTPError, FeatureSourceError, OSError, ValueError)


@dataclass
class Gathered:
    candidates: list[Candidate] = field(default_factory=list)
    offered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def gather_candidates(sources: Sequence[CandidateSource], taste: Taste) -> Gathered:
    """Every available source's candidates, in source order, with counts and failures."""
    active = [source for source in sources if source.available()]
    answers = await asyncio.gather(*(_ask(source, taste) for source in active))
    gathered = Gathered()
    for source, answer in zip(active, answers, strict=True):
        if isinstance(answer, str):
            gathered.failed[source.name] = answer
            continue
        gathered.candidates.extend(answer)
        gathered.offered[source.name] = len(answer)
    return gathered


async def _ask(source: CandidateSource, taste: Taste) -> list[Candidate] | str:
    try:
        return await source.candidates(taste)
    except QuotaExceeded:
        # The whole run stops on a spent quota; one source cannot make that soft.
        raise
    except SOFT_FAILURES as exc:
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        logger.warning("recommendation source %s failed for this snapshot: %s", source.name, why)
        return why
