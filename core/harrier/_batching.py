"""Group texts into batches by a padded-token budget, longest first; chunk by a size budget."""

from __future__ import annotations

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


def size_bounded(items: Iterable[T], size: Callable[[T], int], budget: int) -> Iterator[list[T]]:
    """``items`` in order, in consecutive chunks of at most ``budget`` total ``size`` (an item
    larger than the budget goes alone)."""
    chunk: list[T] = []
    total = 0
    for item in items:
        item_size = size(item)
        if chunk and total + item_size > budget:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += item_size
    if chunk:
        yield chunk
