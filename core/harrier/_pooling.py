"""Pure pooling functions: hidden states and attention mask in, one vector per sequence out."""

from __future__ import annotations

import torch


def last_token_pooling(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The hidden state of each sequence's last real token, found from the mask.

    Works for left and right padding alike: the position is the highest index whose mask is 1.
    """
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, -1).max(dim=1).values
    if bool((last < 0).any()):
        raise ValueError("a sequence has no real token to pool")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def mean_pooling(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the hidden states of the real tokens (accumulated in float32)."""
    weights = mask.unsqueeze(-1).to(torch.float32)
    summed = (hidden.to(torch.float32) * weights).sum(dim=1)
    return summed / weights.sum(dim=1).clamp(min=1e-9)


def last_token_pooling_packed(hidden: torch.Tensor, bounds: torch.Tensor) -> torch.Tensor:
    """The hidden state of each packed row's last token; row ``i`` of the one packed sequence
    ``hidden`` (``(tokens, dim)``) is ``bounds[i]:bounds[i + 1]``."""
    return hidden[bounds[1:].long() - 1]


def mean_pooling_packed(hidden: torch.Tensor, bounds: torch.Tensor) -> torch.Tensor:
    """The mean of each packed row's hidden states (accumulated in float32)."""
    lengths = (bounds[1:] - bounds[:-1]).long()
    rows = torch.repeat_interleave(torch.arange(len(lengths), device=hidden.device), lengths)
    summed = torch.zeros(
        (len(lengths), hidden.shape[-1]), dtype=torch.float32, device=hidden.device
    )
    summed.index_add_(0, rows, hidden.to(torch.float32))
    return summed / lengths.unsqueeze(-1).to(torch.float32)


def l2_normalize(vectors: torch.Tensor) -> torch.Tensor:
    """Scale each row to unit length (in float32)."""
    return torch.nn.functional.normalize(vectors.to(torch.float32), p=2.0, dim=-1)


POOLERS = {"lasttoken": last_token_pooling, "mean": mean_pooling}
PACKED_POOLERS = {"lasttoken": last_token_pooling_packed, "mean": mean_pooling_packed}
