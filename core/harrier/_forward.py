"""The forward pass: pad (or pack) token ids, run the model (from scratch or after a cached
prompt), pool.

A *runner* embeds one batch of token-id rows into L2-normalised float32 vectors. The
``Embedder`` decides which rows go together; :func:`run_batch` runs one batch and, on
out-of-memory, splits it in halves until single rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from harrier import _packing
from harrier._errors import EmbeddingOutOfMemoryError
from harrier._loading import LoadedModel
from harrier._pooling import PACKED_POOLERS, POOLERS, l2_normalize
from harrier._prefix_cache import PrefixEntry

logger = logging.getLogger("harrier")

Rows = Sequence[Sequence[int] | np.ndarray]
Runner = Callable[[Rows], np.ndarray]
Model = Callable[..., Any]
"""A model's forward: the loaded model itself, or it under ``torch.compile``."""


def run_batch(rows: Rows, run: Runner, device: torch.device) -> np.ndarray:
    """Embed one batch with ``run``; on out-of-memory split it in halves and retry."""
    try:
        return run(rows)
    except torch.OutOfMemoryError as exc:
        if len(rows) == 1:
            raise EmbeddingOutOfMemoryError(
                f"one text of {len(rows[0])} tokens does not fit in {device} memory; "
                "lower max_tokens and split texts into shorter spans"
            ) from exc
        if device.type == "cuda":
            torch.cuda.empty_cache()
        half = len(rows) // 2
        logger.info("out of memory on a batch of %d texts, splitting it", len(rows))
        return np.concatenate(
            [run_batch(rows[:half], run, device), run_batch(rows[half:], run, device)]
        )


def pad(loaded: LoadedModel, rows: Rows) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and their attention mask, on the model's device."""
    longest = max(len(r) for r in rows)
    pad_id = loaded.tokenizer.pad_token_id or 0
    input_ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return (torch.from_numpy(input_ids).to(loaded.device), torch.from_numpy(mask).to(loaded.device))


def pool(loaded: LoadedModel, hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """The model's pooling, then unit length, as float32 numpy."""
    pooled = POOLERS[loaded.files.pooling](hidden, mask)
    return l2_normalize(pooled).cpu().numpy()


COMPILATIONS_PER_REPLICA = 8
"""Dynamo's default limit of compilations per code object, which every replica of a model
shares (the same ``forward``): each device compiles its own packed and small-batch graphs."""


def compiled(model: Any, replicas: int) -> Model:
    """``model`` under ``torch.compile`` (inductor, dynamic shapes: one compilation for every
    length), with dynamo's compilation limit raised for ``replicas`` replicas of it, so no
    replica falls back to the eager forward for want of a cache entry."""
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, COMPILATIONS_PER_REPLICA * replicas)
    return torch.compile(model, dynamic=True)


def plain_runner(loaded: LoadedModel) -> Runner:
    """A runner that embeds whole rows."""
    # A packable model takes a mask per layer type: none at all, so sliding-window layers
    # apply their window in blocks (harrier._packing.windowed) instead of a full-length mask.
    unmasked = _packing.no_masks(loaded.model) if loaded.packable else None

    @torch.inference_mode()
    def run(rows: Rows) -> np.ndarray:
        input_ids, mask = pad(loaded, rows)
        # No mask where none is needed (all rows full, or causal attention over right padding:
        # a token never attends to the pads after it), so attention takes its causal fast path
        # and the model builds no (rows, length, length) mask. Pooling still reads ``mask``.
        needs_mask = not (loaded.causal or bool(mask.all()))
        hidden = loaded.model(
            input_ids=input_ids, attention_mask=mask if needs_mask else unmasked, use_cache=False
        ).last_hidden_state
        return pool(loaded, hidden, mask)

    return run


def packed_runner(loaded: LoadedModel, model: Model | None = None) -> Runner:
    """A runner that packs whole rows into one sequence, without padding (``harrier._packing``);
    through ``model`` where given (the loaded model compiled)."""
    forward = loaded.model if model is None else model
    masks = _packing.no_masks(loaded.model)

    @torch.inference_mode()
    def run(rows: Rows) -> np.ndarray:
        lengths = [len(r) for r in rows]
        ids = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
        positions = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
        pack = _packing.Pack.of(lengths, loaded.device)
        hidden = forward(
            input_ids=torch.from_numpy(ids).to(loaded.device)[None],
            position_ids=torch.from_numpy(positions).to(loaded.device)[None],
            attention_mask=masks,
            use_cache=False,
            **pack.kwargs(),
        ).last_hidden_state[0]
        bounds = _packing.on(pack.cu_seqlens, hidden.device)
        pooled = PACKED_POOLERS[loaded.files.pooling](hidden, bounds)
        return l2_normalize(pooled).cpu().numpy()

    return run


def cached_runner(loaded: LoadedModel, entry: PrefixEntry) -> Runner:
    """A runner that embeds rows which follow ``entry``'s cached prefix (given without it)."""

    @torch.inference_mode()
    def run(rows: Rows) -> np.ndarray:
        input_ids, mask = pad(loaded, rows)
        size = len(entry.ids)
        prefix_mask = torch.ones((len(rows), size), dtype=mask.dtype, device=mask.device)
        positions = torch.arange(size, size + input_ids.shape[1], device=loaded.device)
        hidden = loaded.model(
            input_ids=input_ids,
            attention_mask=torch.cat([prefix_mask, mask], dim=1),
            position_ids=positions.expand(len(rows), -1),
            cache=entry.cache_for(len(rows)),
            use_cache=True,
        ).last_hidden_state
        return pool(loaded, hidden, mask)

    return run
