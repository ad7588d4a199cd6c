"""sentence-transformers as a harrier engine: the worked example of an engine package outside
harrier (docs/writing-an-engine.md). ``SentenceTransformer.encode`` computes the vectors;
this class adds what harrier's engines promise and sentence-transformers does not: typed errors
instead of silent truncation, and the model's identity, so a collection filled by either engine
accepts the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer

from harrier import (
    DEFAULT_MODEL,
    HARRIER_RETRIEVAL_PROMPT,
    ConfigurationError,
    EmptyTextError,
    EngineRequest,
    InputTypeError,
    ModelIdentity,
    TextTooLongError,
    UnknownPromptError,
    model_folder,
)

__all__ = ["SentenceTransformerEngine", "open_engine"]


def open_engine(request: EngineRequest) -> SentenceTransformerEngine:
    """The ``harrier.engines`` entry point: ``--engine st`` with ``--model``, ``--device`` and
    ``--max-tokens``; one device only."""
    request.refuse("location", "devices")
    return SentenceTransformerEngine(
        request.model or DEFAULT_MODEL, device=request.device, max_tokens=request.max_tokens
    )


class SentenceTransformerEngine:
    """A :class:`harrier.EmbeddingEngine` over ``SentenceTransformer(model)``."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        max_tokens: int | None = None,
    ) -> None:
        folder = model_folder(model)  # harrier's clear error when the Hub is unreachable
        self._model = SentenceTransformer(str(folder), device=device)
        # sentence-transformers truncates at max_seq_length (else the tokenizer's limit)
        limit = int(self._model.max_seq_length or self._model.tokenizer.model_max_length)
        if max_tokens is not None and not 0 < max_tokens <= limit:
            raise ConfigurationError(f"max_tokens must be between 1 and {limit}, not {max_tokens}")
        self.model_name = model
        self.identity = ModelIdentity.from_folder(model, folder)
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = max_tokens or limit
        self.prompts = {name: p for name, p in self._model.prompts.items() if p is not None}
        self.tokenizer: Any = self._model.tokenizer
        self._special = set(self.tokenizer.all_special_ids)

    @property
    def device(self) -> str:
        """Where the model runs (``cpu``, ``cuda:0``): shown in harrier's plan line."""
        return str(self._model.device)

    def __repr__(self) -> str:
        return f"SentenceTransformerEngine({self.model_name!r})"

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        """``Instruct: {instruction}\\nQuery: ``, the named prompt, or the model's default."""
        if instruction is not None and prompt_name is not None:
            raise ConfigurationError("pass either instruction or prompt_name, not both")
        if instruction is not None:
            return f"Instruct: {instruction}\nQuery: "
        if prompt_name is not None:
            if prompt_name not in self.prompts:
                raise UnknownPromptError(f"unknown prompt name {prompt_name!r}")
            return self.prompts[prompt_name]
        default = self._model.default_prompt_name or "web_search_query"
        return self.prompts.get(default, HARRIER_RETRIEVAL_PROMPT)

    def embed_documents(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> np.ndarray:
        return self._encode(self._checked(texts), show_progress)

    def embed_queries(
        self,
        texts: Sequence[str],
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        prompt = self.query_prompt(instruction, prompt_name)
        return self._encode(self._checked([prompt + t for t in _strings(texts)]), show_progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(row) for row in self._ids(_strings(texts))]

    def _ids(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return list(self.tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"])

    def _checked(self, texts: Sequence[str]) -> list[str]:
        """``texts``, or the typed error for the first that sentence-transformers would
        truncate or embed as nothing."""
        items = _strings(texts)
        for index, row in enumerate(self._ids(items)):
            if len(row) > self.max_tokens:
                raise TextTooLongError(index, len(row), self.max_tokens)
            if self._special.issuperset(row):
                raise EmptyTextError(index)
        return items

    def _encode(self, texts: list[str], show_progress: bool | None) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts, prompt="", normalize_embeddings=True, show_progress_bar=bool(show_progress)
        )
        return np.asarray(vectors, dtype=np.float32)


def _strings(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputTypeError(None, texts, expected="a list of str", hint="pass [text]")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InputTypeError(index, text)
    return items
