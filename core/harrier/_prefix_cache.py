"""Reuse the key/value states of a query prompt across every query that starts with it.

With causal attention the keys and values of a shared prefix do not depend on what follows, so
the prompt's states are computed once per prompt and model, and each batch of queries runs only
its own tokens. Exactness rests on token ids: the cached prefix is the longest token-id prefix
that the prompt keeps whatever follows it (the prompt's trailing space merges into a following
Latin word, so the prefix ends before it), and a query is served from the cache only when its
own full tokenisation starts with exactly those ids; any other query takes the plain path.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

_PROBES = ["a", "Z", "0", " ", "\n", "中", "é", "The", "?", "🙂", "hello world", "x y", "-"]
_MAX_PROMPTS = 8


@dataclass(frozen=True)
class PrefixEntry:
    """The token ids of a prompt's stable prefix and their key/value cache (batch of one)."""

    ids: tuple[int, ...]
    cache: Any

    def cache_for(self, batch_size: int) -> Any:
        """A fresh copy of the cache for one batch (the model appends to it)."""
        fresh = copy.deepcopy(self.cache)
        if batch_size > 1:
            fresh.batch_repeat_interleave(batch_size)
        return fresh


class PrefixCache:
    """Prefix entries of the most recent prompts of one loaded model."""

    def __init__(
        self, model: Any, tokenizer: Any, device: torch.device, tokenizer_lock: threading.Lock
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._device = device
        self._tokenizer_lock = tokenizer_lock
        self._entries: OrderedDict[str, PrefixEntry | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, prompt: str) -> PrefixEntry | None:
        """The entry for ``prompt``, computed on first use; None when no stable prefix exists."""
        with self._lock:
            if prompt in self._entries:
                self._entries.move_to_end(prompt)
                return self._entries[prompt]
            entry = self._build(prompt)
            self._entries[prompt] = entry
            if len(self._entries) > _MAX_PROMPTS:
                self._entries.popitem(last=False)
            return entry

    def _build(self, prompt: str) -> PrefixEntry | None:
        with self._tokenizer_lock:
            ids = stable_prefix_ids(self._tokenizer, prompt)
        if len(ids) < 2:
            return None
        with torch.inference_mode():
            output = self._model(input_ids=torch.tensor([ids], device=self._device), use_cache=True)
        return PrefixEntry(tuple(ids), output.cache)


def stable_prefix_ids(tokenizer: Any, prompt: str) -> list[int]:
    """The longest token-id prefix shared by ``prompt + x`` for very different ``x``."""
    rows = tokenizer([prompt + probe for probe in _PROBES], add_special_tokens=True)["input_ids"]
    common = list(rows[0])
    for row in rows[1:]:
        length = 0
        for a, b in zip(common, row, strict=False):
            if a != b:
                break
            length += 1
        common = common[:length]
    shortest = min(len(row) for row in rows)
    return common[: shortest - 1]  # every query keeps at least one token of its own
