"""The ``Embedder``: texts in, L2-normalised float32 vectors out, exactly as the reference."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from harrier._batching import token_budget_batches
from harrier._errors import (
    ConfigurationError,
    EmbeddingOutOfMemoryError,
    EmptyTextError,
    InputTypeError,
    TextTooLongError,
)
from harrier._loading import LoadedModel, load_model, resolve_device, resolve_dtype
from harrier._model_files import HARRIER_RETRIEVAL_PROMPT, query_prompt, resolve_folder
from harrier._pooling import POOLERS, l2_normalize
from harrier._prefix_cache import PrefixEntry

logger = logging.getLogger("harrier")

DEFAULT_MODEL = "microsoft/harrier-oss-v1-270m"


class Embedder:
    """Embeds documents and queries with a Harrier (or any last-token / mean-pooled) model.

    Build one with :meth:`from_pretrained`. Embedders of the same model, device and dtype share
    one loaded model, so settings can differ without paying for the weights twice.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        model_name: str,
        max_tokens: int | None = None,
        truncate: bool = False,
        max_batch_tokens: int | None = None,
        show_progress: bool = False,
        prefix_cache: bool = True,
    ) -> None:
        self._loaded = loaded
        self.model_name = model_name
        if max_tokens is not None and not 0 < max_tokens <= loaded.limit:
            raise ConfigurationError(
                f"max_tokens={max_tokens} must be between 1 and the model's limit {loaded.limit}"
            )
        self.max_tokens: int = max_tokens or loaded.limit
        self.truncate = truncate
        default_budget = 65_536 if loaded.device.type == "cuda" else 8_192
        self.max_batch_tokens: int = max_batch_tokens or default_budget
        if self.max_batch_tokens < 1:
            raise ConfigurationError("max_batch_tokens must be positive")
        self.show_progress = show_progress
        self.prefix_cache = prefix_cache and loaded.files.pooling == "lasttoken"

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path = DEFAULT_MODEL,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_tokens: int | None = None,
        truncate: bool = False,
        local_files_only: bool = False,
        revision: str | None = None,
        max_batch_tokens: int | None = None,
        show_progress: bool = False,
        prefix_cache: bool = True,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
    ) -> Embedder:
        """Load ``model`` (a Hub id or a local folder), sharing weights already loaded.

        ``device``/``dtype`` default to CUDA + bfloat16 when a GPU is present, else CPU +
        float32. ``max_tokens`` defaults to the model's limit (32,768 for Harrier); longer texts
        raise ``TextTooLongError`` unless ``truncate=True``. ``max_batch_tokens`` bounds the padded
        tokens of one forward pass. ``prefix_cache`` reuses the query prompt's key/value states
        across queries (exact; last-token models only).
        """
        folder = resolve_folder(str(model), revision=revision, local_files_only=local_files_only)
        resolved_device = resolve_device(device)
        loaded = load_model(
            folder,
            device=resolved_device,
            dtype=resolve_dtype(dtype, resolved_device),
            trust_remote_code=trust_remote_code,
            attn_implementation=attn_implementation,
        )
        return cls(
            loaded,
            model_name=str(model),
            max_tokens=max_tokens,
            truncate=truncate,
            max_batch_tokens=max_batch_tokens,
            show_progress=show_progress,
            prefix_cache=prefix_cache,
        )

    # -- what the model is ---------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        """Length of every embedding vector."""
        return self._loaded.dimension

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        """The model's own tokenizer (used as is: its special tokens are the model's)."""
        return self._loaded.tokenizer

    @property
    def device(self) -> torch.device:
        return self._loaded.device

    @property
    def dtype(self) -> torch.dtype:
        return self._loaded.dtype

    @property
    def prompts(self) -> dict[str, str]:
        """The named query prompts the model ships (``config_sentence_transformers.json``)."""
        return dict(self._loaded.files.prompts)

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        """The text put before every query.

        ``instruction`` gives ``Instruct: {instruction}\\nQuery: ``; ``prompt_name`` the model's
        named prompt unchanged; neither gives the model's default or ``web_search_query`` prompt,
        else Harrier's retrieval instruction.
        """
        files = self._loaded.files
        default = files.prompts.get(files.default_prompt_name or "web_search_query",
                                    HARRIER_RETRIEVAL_PROMPT)
        return query_prompt(files.prompts, default, instruction, prompt_name)

    # -- embedding -----------------------------------------------------------------------------
    def embed_documents(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> np.ndarray:
        """Embed documents as plain text (never with an instruction)."""
        return self._embed(_checked(texts), show_progress)

    def embed_queries(
        self,
        texts: Sequence[str],
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed queries, each prefixed with the query prompt (see :meth:`query_prompt`)."""
        prompt = self.query_prompt(instruction, prompt_name)
        full = [prompt + text for text in _checked(texts)]
        return self._embed(full, show_progress, prompt if self.prefix_cache else None)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of documents, special tokens included: exactly what the model sees."""
        return [len(ids) for ids in self._tokenize(_checked(texts))]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        with self._loaded.tokenizer_lock:
            encoded = self.tokenizer(
                texts, add_special_tokens=True, truncation=False, verbose=False
            )["input_ids"]
        return [list(ids) for ids in encoded]

    def _prepare(self, texts: list[str]) -> list[list[int]]:
        """Tokenise, enforce the length limit (or truncate when asked) and refuse empty texts."""
        ids = self._tokenize(texts)
        special = self._loaded.special_ids
        too_long = [i for i, row in enumerate(ids) if len(row) > self.max_tokens]
        if too_long and not self.truncate:
            first = too_long[0]
            raise TextTooLongError(first, len(ids[first]), self.max_tokens)
        if too_long:
            with self._loaded.tokenizer_lock:
                cut = self.tokenizer(
                    [texts[i] for i in too_long],
                    add_special_tokens=True,
                    truncation=True,
                    max_length=self.max_tokens,
                )["input_ids"]
            for i, row in zip(too_long, cut, strict=True):
                ids[i] = list(row)
            logger.warning(
                "truncated %d of %d texts to %d tokens (truncate=True)",
                len(too_long), len(texts), self.max_tokens,
            )
        for i, row in enumerate(ids):
            if all(token in special for token in row):
                raise EmptyTextError(i)
        return ids

    def _embed(
        self, texts: list[str], show_progress: bool | None, prompt: str | None = None
    ) -> np.ndarray:
        """Embed prepared texts; those starting with ``prompt``'s cached prefix reuse it."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self._prepare(texts)
        entry = self._loaded.prefix_cache.get(prompt) if prompt is not None else None
        plain = list(range(len(ids)))
        cached: list[int] = []
        if entry is not None:
            size = len(entry.ids)
            cached = [i for i in plain if tuple(ids[i][:size]) == entry.ids]
            plain = sorted(set(plain) - set(cached))
        progress = self.show_progress if show_progress is None else show_progress
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for group, skip, run in (
                (plain, 0, self._forward_batch),
                (cached, len(entry.ids) if entry else 0, self._cached_runner(entry)),
            ):
                lengths = [len(ids[i]) - skip for i in group]
                for batch in token_budget_batches(lengths, self.max_batch_tokens,
                                                  shared_prefix=skip):
                    rows = [group[j] for j in batch]
                    out[rows] = self._forward([ids[i][skip:] for i in rows], run)
                    bar.update(len(rows))
        return out

    def _forward(self, rows: list[list[int]], run: Callable[[list[list[int]]], np.ndarray]
                 ) -> np.ndarray:
        """Embed one batch with ``run``; on out-of-memory split it in halves and retry."""
        try:
            return run(rows)
        except torch.OutOfMemoryError as exc:
            if len(rows) == 1:
                raise EmbeddingOutOfMemoryError(
                    f"one text of {len(rows[0])} tokens does not fit in {self.device} memory; "
                    "lower max_tokens and split texts into shorter spans"
                ) from exc
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(rows) // 2
            logger.info("out of memory on a batch of %d texts, splitting it", len(rows))
            return np.concatenate([self._forward(rows[:half], run),
                                   self._forward(rows[half:], run)])

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids and their attention mask, on the model's device."""
        longest = max(len(r) for r in rows)
        pad_id = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        pooled = POOLERS[self._loaded.files.pooling](hidden, mask)
        return l2_normalize(pooled).cpu().numpy()

    @torch.inference_mode()
    def _forward_batch(self, rows: list[list[int]]) -> np.ndarray:
        input_ids, mask = self._pad(rows)
        # All rows full: no mask, so attention can take its causal fast path.
        full = bool(mask.all())
        hidden = self._loaded.model(
            input_ids=input_ids, attention_mask=None if full else mask, use_cache=False
        ).last_hidden_state
        return self._pool(hidden, mask)

    def _cached_runner(
        self, entry: PrefixEntry | None
    ) -> Callable[[list[list[int]]], np.ndarray]:
        """A batch function that runs query suffixes after ``entry``'s cached prefix."""

        @torch.inference_mode()
        def run(rows: list[list[int]]) -> np.ndarray:
            assert entry is not None
            input_ids, mask = self._pad(rows)
            size = len(entry.ids)
            prefix_mask = torch.ones((len(rows), size), dtype=mask.dtype, device=mask.device)
            positions = torch.arange(size, size + input_ids.shape[1], device=self.device)
            hidden = self._loaded.model(
                input_ids=input_ids,
                attention_mask=torch.cat([prefix_mask, mask], dim=1),
                position_ids=positions.expand(len(rows), -1),
                cache=entry.cache_for(len(rows)),
                use_cache=True,
            ).last_hidden_state
            return self._pool(hidden, mask)

        return run


def _checked(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputTypeError(0, texts) from TypeError(
            "pass a list of strings, not a single string"
        )
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InputTypeError(i, text)
    return items
