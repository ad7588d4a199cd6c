"""Padding-free batches: the rows of a batch packed into one sequence, each attending to itself.

A packed batch is one row of ``sum(lengths)`` tokens with position ids restarting at every row.
The forward pass is given the row boundaries as transformers' packed-sequence keywords
(``cu_seq_lens_q``, ``max_length_q``: :meth:`Pack.kwargs`), which the model hands to every
attention call; so a ``torch.compile``-d forward traces them like any input. The attention
function registered here as ``harrier`` sees them and runs

- on CUDA in bfloat16/float16: PyTorch's variable-length flash attention
  (``torch.nn.attention.varlen.varlen_attn``), causal, with each sliding-window layer's window,
  so no token attends across a row boundary and no padding is computed;
- elsewhere (CPU, float32): scaled-dot-product attention row by row (exact, no padding either,
  one kernel per row and layer).

Outside a packed pass it is transformers' SDPA attention, except for a causal sliding-window
layer given no mask (the padded runner asks for none): that applies its window in blocks
(:func:`windowed`), so no (length x length) mask is built (1 GB at 32,768 tokens). Only
causal ``gemma3_text`` / ``qwen3`` models are packed: their forward takes the per-layer-type
mask mapping that lets the packed pass skip the quadratic block mask transformers would
otherwise build.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F

ATTENTION = "harrier"
"""The ``attn_implementation`` name the engine loads models with (SDPA unless packed)."""
PACKABLE_MODELS = frozenset({"gemma3_text", "qwen3"})


@dataclass(frozen=True)
class Pack:
    """Row boundaries of one packed sequence: row ``i`` is ``cu_seqlens[i]:cu_seqlens[i + 1]``."""

    cu_seqlens: torch.Tensor  # int32, (rows + 1,), on the model's device
    longest: int

    @classmethod
    def of(cls, lengths: list[int], device: torch.device) -> Pack:
        bounds = [0]
        for length in lengths:
            bounds.append(bounds[-1] + length)
        return cls(torch.tensor(bounds, dtype=torch.int32, device=device), max(lengths))

    def kwargs(self) -> dict[str, Any]:
        """The forward pass's keywords that make it a packed pass (transformers' names)."""
        return {"cu_seq_lens_q": self.cu_seqlens, "max_length_q": self.longest}


def on(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device`` (layers of a model spread over GPUs run on several)."""
    return tensor if tensor.device == device else tensor.to(device)


def attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    sliding_window: int | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: ``(batch, heads, tokens, head_dim)`` in,
    ``(batch, tokens, heads, head_dim)`` out."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    cu_seqlens = kwargs.pop("cu_seq_lens_q", None)
    longest = kwargs.pop("max_length_q", None)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    if cu_seqlens is None and _unmasked_window(module, query, key, attention_mask, sliding_window):
        key, value = _expand_groups(query, key, value)
        return windowed(query, key, value, scale, cast(int, sliding_window)).transpose(1, 2), None
    if cu_seqlens is None:
        return sdpa_attention_forward(  # type: ignore[no-any-return]
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if query.shape[0] != 1 or attention_mask is not None:
        raise RuntimeError("a packed pass runs one sequence without an attention mask")
    if kwargs.get("softcap") is not None:
        raise RuntimeError("packed attention does not support logit soft-capping")
    pack = Pack(on(cu_seqlens, query.device), longest)
    if _use_varlen(query):
        out = _varlen(query[0], key[0], value[0], pack, scale, sliding_window)
    else:
        out = _row_by_row(query[0], key[0], value[0], pack, scale, sliding_window)
    return out.unsqueeze(0), None


def _use_varlen(query: torch.Tensor) -> bool:
    return (
        query.is_cuda
        and query.dtype in (torch.bfloat16, torch.float16)
        and query.shape[-1] <= 256
        and varlen_available()
    )


@functools.cache
def varlen_available() -> bool:
    """PyTorch has variable-length flash attention with sliding windows (torch 2.11+)."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return False
    return "window_size" in inspect.signature(varlen_attn).parameters


def _varlen(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    pack: Pack,
    scale: float,
    window: int | None,
) -> torch.Tensor:
    """Flash attention over the packed rows; ``(heads, tokens, dim)`` in, ``(tokens, heads,
    dim)`` out. A window of ``w`` tokens (transformers' meaning: the token and the ``w - 1``
    before it) is flash attention's ``(w - 1, 0)``."""
    from torch.nn.attention.varlen import varlen_attn

    q, k, v = (t.transpose(0, 1) for t in (query, key, value))
    groups = q.shape[1] // k.shape[1]
    options: dict[str, Any] = {}
    if groups > 1:
        if "enable_gqa" in inspect.signature(varlen_attn).parameters:
            options["enable_gqa"] = True
        else:
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    left = window - 1 if window is not None and window < pack.longest else -1
    out = varlen_attn(
        q.contiguous(),
        k.contiguous(),
        v.contiguous(),
        pack.cu_seqlens,
        pack.cu_seqlens,
        pack.longest,
        pack.longest,
        scale=scale,
        window_size=(left, 0),
        **options,
    )
    return cast(torch.Tensor, out)  # no auxiliary outputs were asked for


def _row_by_row(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    pack: Pack,
    scale: float,
    window: int | None,
) -> torch.Tensor:
    """SDPA on each row alone: causal, within ``window`` where the row is longer than it.
    (Reads the boundaries on the host: a compiled forward breaks its graph here.)"""
    key, value = _expand_groups(query, key, value)
    out = torch.empty_like(query.transpose(0, 1))
    bounds = pack.cu_seqlens.tolist()
    for start, stop in itertools.pairwise(bounds):
        # (1, heads, tokens, dim): SDPA's memory-efficient CPU kernel takes batched input only;
        # without the batch axis it falls back to a (tokens x tokens) score matrix per head.
        q, k, v = (t[None, :, start:stop] for t in (query, key, value))
        if window is not None and stop - start > window:
            rows = windowed(q, k, v, scale, window)
        else:
            rows = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        out[start:stop] = rows[0].transpose(0, 1)
    return out


def _expand_groups(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values repeated for grouped-query attention (heads are the third-last axis)."""
    groups = query.shape[-3] // key.shape[-3]
    if groups == 1:
        return key, value
    return key.repeat_interleave(groups, dim=-3), value.repeat_interleave(groups, dim=-3)


def windowed(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float, window: int
) -> torch.Tensor:
    """Causal attention within ``window`` (the token and the ``window - 1`` before it), in
    blocks of ``window`` queries against the ``2 * window - 1`` keys they can see: memory grows
    with the length, not its square (a whole-row mask is 1 GB at 32,768 tokens). Shapes
    ``(..., heads, tokens, dim)``, as SDPA's; the same result as SDPA with the full mask.

    The first block sees every key before it (plain causal attention); every later one the
    same band, built once: query ``i`` of a block sees its keys ``i`` to ``i + window - 1``."""
    length = query.shape[-2]
    out = torch.empty_like(query)
    first_stop = min(window, length)
    out[..., :first_stop, :] = F.scaled_dot_product_attention(
        query[..., :first_stop, :],
        key[..., :first_stop, :],
        value[..., :first_stop, :],
        is_causal=True,
        scale=scale,
    )
    steps = torch.arange(2 * window - 1, device=query.device)
    band = (steps[None, :] >= steps[:window, None]) & (
        steps[None, :] < steps[:window, None] + window
    )
    for start in range(window, length, window):
        stop, first = min(start + window, length), start - window + 1
        out[..., start:stop, :] = F.scaled_dot_product_attention(
            query[..., start:stop, :],
            key[..., first:stop, :],
            value[..., first:stop, :],
            attn_mask=band[: stop - start, : stop - first],
            scale=scale,
        )
    return out


def _unmasked_window(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    mask: torch.Tensor | None,
    window: int | None,
) -> bool:
    """A causal sliding-window layer run without a mask (the padded runner passes
    :func:`no_masks`): its window must be applied here, over more tokens than it spans."""
    return (
        mask is None
        and window is not None
        and bool(getattr(module, "is_causal", False))
        and query.shape[-2] == key.shape[-2] > window
    )


@functools.cache
def register() -> str:
    """Register :func:`attention` (and SDPA's mask builder) with transformers, once."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    return ATTENTION


def no_masks(model: Any) -> dict[str, None]:
    """The mask mapping that tells a packable model to build no mask (one per layer type)."""
    layer_types = getattr(model.config, "layer_types", None) or ["full_attention"]
    return dict.fromkeys(set(layer_types) | {"full_attention", "sliding_attention"})
