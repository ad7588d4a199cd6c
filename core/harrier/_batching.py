"""Group texts into batches by a padded-token budget, longest first; chunk by a size budget
(the one chunker: splitter pieces, store requests and Milvus rows)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_PADDING = 0.25
"""A batch of at least ``MIN_ROWS`` rows is closed before a row this much shorter than its first."""
MIN_ROWS = 8


def token_budget_batches(
    lengths: Sequence[int], max_batch_tokens: int, *, shared_prefix: int = 0
) -> list[list[int]]:
    """Split indices into batches whose padded size (rows x longest row) fits the budget.

    Indices are visited longest first, so each batch holds texts of similar length; a batch is
    also closed before padding would exceed about ``MAX_PADDING`` of it, and a text longer than
    the budget gets a batch of its own. ``shared_prefix`` tokens (a cached prompt) count toward
    the budget but are never padded. The caller restores its order from the returned indices.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        if current:
            longest = lengths[current[0]]
            over_budget = (len(current) + 1) * (longest + shared_prefix) > max_batch_tokens
            too_ragged = len(current) >= MIN_ROWS and lengths[index] < (1 - MAX_PADDING) * longest
            if over_budget or too_ragged:
                batches.append(current)
                current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def size_bounded(
    items: Iterable[T], size: Callable[[T], int], budget: int, *, max_count: int | None = None
) -> Iterator[list[T]]:
    """``items`` in order, in consecutive chunks of at most ``budget`` total ``size`` and at
    most ``max_count`` items (an item larger than the budget goes alone)."""
    return size_bounded_groups(([item] for item in items), size, budget, max_count=max_count)


def size_bounded_groups(
    groups: Iterable[Sequence[T]],
    size: Callable[[T], int],
    budget: int,
    *,
    max_count: int | None = None,
) -> Iterator[list[T]]:
    """The items of ``groups`` in order, chunked as :func:`size_bounded` does; a group is kept
    in one chunk when it fits one (a larger group is split). ``size`` runs once per item."""
    limit = max_count or sys.maxsize
    chunk: list[T] = []
    total = 0
    for group in groups:
        sizes = [size(item) for item in group]
        if chunk and (len(chunk) + len(group) > limit or total + sum(sizes) > budget):
            yield chunk
            chunk, total = [], 0
        for item, item_size in zip(group, sizes, strict=True):
            if chunk and (len(chunk) >= limit or total + item_size > budget):
                yield chunk
                chunk, total = [], 0
            chunk.append(item)
            total += item_size
    if chunk:
        yield chunk
