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


def l2_normalize(vectors: torch.Tensor) -> torch.Tensor:
    """Scale each row to unit length (in float32)."""
    return torch.nn.functional.normalize(vectors.to(torch.float32), p=2.0, dim=-1)


POOLERS = {"lasttoken": last_token_pooling, "mean": mean_pooling}
