"""Group texts into batches by a padded-token budget, longest first."""

from __future__ import annotations

from collections.abc import Sequence


def token_budget_batches(lengths: Sequence[int], max_batch_tokens: int) -> list[list[int]]:
    """Split indices into batches whose padded size (rows x longest row) fits the budget.

    Indices are visited longest first, so each batch holds texts of similar length and padding is
    small; a text longer than the budget gets a batch of its own. The caller restores its order
    from the returned indices.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * longest > max_batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
