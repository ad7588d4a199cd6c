"""Small batches (queries) replayed from captured CUDA graphs, without per-kernel launch cost.

A batch of at most ``ROW_BUCKETS[-1]`` rows of at most ``LENGTH_BUCKETS[-1]`` tokens is padded
on the right to the next bucket shape; the model's forward and pooling for that shape are
captured once (a CUDA graph, on first use) and replayed for every later batch of the shape: one
copy in, one copy out. Right padding under causal attention changes no real token, and pooling
reads only the real tokens, so the vectors are the padded path's. Larger batches go to the
``fallback`` runner. Off the GPU the same bucketing runs eagerly (what the tests check).

``model``: the forward to capture, e.g. the model under ``torch.compile`` (inductor, dynamic
shapes: one compilation serves every bucket), whose fused kernels make a replay shorter.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from harrier._forward import Model
from harrier._loading import LoadedModel
from harrier._packing import PACKABLE_MODELS, no_masks
from harrier._pooling import POOLERS, l2_normalize

ROW_BUCKETS = (1, 2, 4, 8, 16)
LENGTH_BUCKETS = (16, 32, 64, 128, 256)


def bucket(value: int, buckets: tuple[int, ...]) -> int | None:
    """The smallest bucket holding ``value``, or None when it is over the largest."""
    at = bisect_left(buckets, value)
    return buckets[at] if at < len(buckets) else None


class _Shape:
    """One bucket shape: static inputs (ids and mask, one tensor: one copy per call) and the
    vectors its captured forward and pooling write."""

    def __init__(self, loaded: LoadedModel, model: Any, rows: int, length: int, pool: Any) -> None:
        self.inputs = torch.zeros((2, rows, length), dtype=torch.int64, device=loaded.device)
        self._loaded = loaded
        self._model = model
        window = getattr(loaded.model.config, "sliding_window", None)
        # A causal model whose windows cover the whole shape needs no mask at all: attention
        # takes its causal fast path, and no mask is built inside the graph.
        no_mask = loaded.model_type in PACKABLE_MODELS and (window is None or window >= length)
        self._masks = no_masks(loaded.model) if no_mask else None
        self.graph: torch.cuda.CUDAGraph | None = None
        if loaded.device.type == "cuda":
            self._capture(pool)
        else:
            self.vectors = self._forward()

    def _forward(self) -> torch.Tensor:
        ids, mask = self.inputs[0], self.inputs[1]
        hidden = self._model(
            input_ids=ids, attention_mask=self._masks, use_cache=False
        ).last_hidden_state
        if self._loaded.files.pooling == "lasttoken":  # rows are right-padded
            last = mask.sum(dim=1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        else:
            pooled = POOLERS[self._loaded.files.pooling](hidden, mask)
        return l2_normalize(pooled)

    def _capture(self, pool: Any) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: kernels chosen, workspaces allocated
                self._forward()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.vectors = self._forward()

    def run(self) -> torch.Tensor:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.vectors = self._forward()
        return self.vectors


class GraphedRunner:
    """A runner: small batches from captured graphs of bucketed shapes, others ``fallback``."""

    def __init__(
        self,
        loaded: LoadedModel,
        fallback: Callable[[Any], np.ndarray],
        *,
        model: Model | None = None,
    ) -> None:
        if not loaded.causal:
            raise ValueError("graph replay pads rows on the right, which needs causal attention")
        self._loaded = loaded
        self._model = loaded.model if model is None else model
        self._fallback = fallback
        self._shapes: dict[tuple[int, int], _Shape] = {}
        self._lock = threading.Lock()  # one replay at a time: the shapes' buffers are shared
        self._pool = torch.cuda.graph_pool_handle() if loaded.device.type == "cuda" else None

    def __call__(self, rows: Any) -> np.ndarray:
        height = bucket(len(rows), ROW_BUCKETS)
        width = bucket(max(len(r) for r in rows), LENGTH_BUCKETS)
        if height is None or width is None:
            return self._fallback(rows)
        size = (height, width)
        inputs = np.zeros((2, *size), dtype=np.int64)
        inputs[0] = self._loaded.tokenizer.pad_token_id or 0
        for i, row in enumerate(rows):
            inputs[0, i, : len(row)] = row
            inputs[1, i, : len(row)] = 1
        with self._lock, torch.no_grad():
            shape = self._shapes.get(size)
            if shape is None:
                shape = _Shape(self._loaded, self._model, height, width, self._pool)
                self._shapes[size] = shape
            shape.inputs.copy_(torch.from_numpy(inputs))
            return shape.run()[: len(rows)].cpu().numpy()
