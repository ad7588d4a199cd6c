"""Reciprocal rank fusion of ranked hit lists, for stores that fuse hybrid results themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from harrier._records import Hit

RRF_K = 60
"""The reciprocal rank fusion constant: a hit at 1-based ``rank`` adds ``1 / (60 + rank)``."""


def arm_limit(k: int) -> int:
    """How many candidates each arm of a hybrid search hands to the fusion for ``k`` results."""
    return max(4 * k, 20)


def fuse_ranks(arms: Sequence[Sequence[Hit]], weights: Sequence[float], k: int) -> list[Hit]:
    """Weighted reciprocal rank fusion of ranked lists (Qdrant's formula): a hit at 1-based
    ``rank`` in an arm of weight ``w`` adds ``1 / (rank / w + RRF_K)``."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for arm, weight in zip(arms, weights, strict=True):
        for rank, hit in enumerate(arm, start=1):
            first.setdefault(hit.id, hit)
            if weight > 0:
                scores[hit.id] = scores.get(hit.id, 0.0) + 1 / (rank / weight + RRF_K)
    best = sorted(scores, key=scores.__getitem__, reverse=True)[:k]
    return [replace(first[key], score=scores[key]) for key in best]
