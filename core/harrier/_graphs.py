"""Small batches (queries) replayed from captured CUDA graphs, without per-kernel launch cost.

A batch of at most ``ROW_BUCKETS[-1]`` rows of at most ``LENGTH_BUCKETS[-1]`` tokens is padded
on the right to the next bucket shape; the model's forward for that shape is captured once (a
CUDA graph, on first use) and replayed for every later batch of the shape. Right padding under
causal attention changes no real token, and pooling reads only the real rows and tokens, so the
vectors are the padded path's. Larger batches go to the ``fallback`` runner. Off the GPU the
same bucketing runs eagerly (what the tests check).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from harrier._loading import LoadedModel
from harrier._pooling import POOLERS, l2_normalize

ROW_BUCKETS = (1, 2, 4, 8, 16)
LENGTH_BUCKETS = (16, 32, 64, 128, 256)


def bucket(value: int, buckets: tuple[int, ...]) -> int | None:
    """The smallest bucket holding ``value``, or None when it is over the largest."""
    at = bisect_left(buckets, value)
    return buckets[at] if at < len(buckets) else None


class _Shape:
    """One bucket shape: static input ids and the hidden states its forward writes."""

    def __init__(self, loaded: LoadedModel, rows: int, length: int, pool: Any) -> None:
        self.ids = torch.full(
            (rows, length), loaded.tokenizer.pad_token_id or 0, device=loaded.device
        )
        self._model = loaded.model
        self.graph: torch.cuda.CUDAGraph | None = None
        if loaded.device.type == "cuda":
            self._capture(pool)
        else:
            self.hidden = self._forward()

    def _forward(self) -> torch.Tensor:
        out: torch.Tensor = self._model(input_ids=self.ids, use_cache=False).last_hidden_state
        return out

    def _capture(self, pool: Any) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: kernels chosen, workspaces allocated
                self._forward()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.hidden = self._forward()

    def run(self) -> torch.Tensor:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.hidden = self._forward()
        return self.hidden


class GraphedRunner:
    """A runner: small batches from captured graphs of bucketed shapes, others ``fallback``."""

    def __init__(self, loaded: LoadedModel, fallback: Callable[[Any], np.ndarray]) -> None:
        if not loaded.causal:
            raise ValueError("graph replay pads rows on the right, which needs causal attention")
        self._loaded = loaded
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
        mask = np.zeros((len(rows), width), dtype=np.int64)
        ids = np.full(size, self._loaded.tokenizer.pad_token_id or 0, dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        with self._lock, torch.no_grad():
            shape = self._shapes.get(size)
            if shape is None:
                shape = self._shapes[size] = _Shape(self._loaded, height, width, self._pool)
            shape.ids.copy_(torch.from_numpy(ids))
            hidden = shape.run()[: len(rows)]
            device_mask = torch.from_numpy(mask).to(self._loaded.device)
            pooled = POOLERS[self._loaded.files.pooling](hidden, device_mask)
            return l2_normalize(pooled).cpu().numpy()
