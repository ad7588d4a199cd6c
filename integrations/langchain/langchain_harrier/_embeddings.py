"""``HarrierEmbeddings``: LangChain's ``Embeddings`` over the harrier engine."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from harrier import DEFAULT_MODEL, Embedder, RemoteEmbedder


class HarrierEmbeddings(BaseModel, Embeddings):
    """Harrier-OSS-v1 embeddings for LangChain: queries get the instruction, documents never.

    ``embed_query`` equals ``Embedder.embed_queries([text], instruction=query_instruction,
    prompt_name=prompt_name)`` and ``embed_documents`` equals ``Embedder.embed_documents``: plain
    text, L2-normalised, so the dot product is the cosine similarity. The model is loaded when the
    object is built, and shared with every other embedder of the same model, device and dtype.

    Example:
        ```python
        from langchain_harrier import HarrierEmbeddings

        embeddings = HarrierEmbeddings(model="microsoft/harrier-oss-v1-270m")
        vector = embeddings.embed_query("capital of France")
        ```
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    model_name: str = Field(
        default=DEFAULT_MODEL,
        alias="model",
        frozen=True,
        description="Hugging Face model id or local folder (also accepted as ``model``).",
    )
    query_instruction: str | None = Field(
        default=None,
        description="One-sentence task put before each query as "
        "``Instruct: {task}\\nQuery: {text}``; None uses the model's retrieval prompt "
        "(``web_search_query``). Documents never get it.",
    )
    prompt_name: str | None = Field(
        default=None,
        description="A named query prompt the model ships (``web_search_query``, "
        "``sts_query``, ``bitext_query``) instead of ``query_instruction``.",
    )
    device: str | None = Field(
        default=None,
        frozen=True,
        description="Torch device (``cpu``, ``cuda``, ``cuda:1``); None: CUDA when present.",
    )
    dtype: str | None = Field(
        default=None,
        frozen=True,
        description="``float32`` or ``bfloat16`` (``float16`` is refused for Gemma-based "
        "sizes); None: bfloat16 on CUDA, float32 elsewhere.",
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        frozen=True,
        description="Longest text accepted, in tokens; None: the model's limit (32,768). "
        "Longer texts raise unless ``truncate`` is set.",
    )
    truncate: bool = Field(
        default=False,
        frozen=True,
        description="Cut texts longer than ``max_tokens`` instead of raising "
        "``harrier.TextTooLongError``.",
    )
    max_batch_tokens: int | None = Field(
        default=None,
        gt=0,
        frozen=True,
        description="Token budget of one forward pass (padded tokens); None: 65,536 on CUDA, "
        "8,192 elsewhere.",
    )
    local_files_only: bool = Field(
        default=False,
        frozen=True,
        description="Load from the local Hugging Face cache only, never the network.",
    )
    revision: str | None = Field(
        default=None,
        frozen=True,
        description="Hub revision (branch, tag or commit) of the model.",
    )
    show_progress: bool = Field(
        default=False,
        frozen=True,
        description="Show a progress bar while embedding.",
    )

    _engine: Embedder | RemoteEmbedder | None = PrivateAttr(default=None)

    def __init__(self, *, embedder: Embedder | RemoteEmbedder | None = None, **data: Any) -> None:
        """Validate the settings, then load the model (harrier's typed errors pass unchanged).

        ``embedder`` (an ``Embedder`` or a ``harrier.RemoteEmbedder``) is used as is instead of
        loading ``model``.
        """
        if embedder is not None:
            data.setdefault("model", embedder.model_name)
        super().__init__(**data)
        self._engine = embedder
        self.embedder.query_prompt(self.query_instruction, self.prompt_name)

    @field_validator("model_name", mode="before")
    @classmethod
    def _path_to_str(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @property
    def embedder(self) -> Embedder | RemoteEmbedder:
        """The ``harrier.Embedder`` doing the work (built on first use)."""
        if self._engine is None:
            self._engine = Embedder.from_pretrained(
                self.model_name,
                device=self.device,
                dtype=self.dtype,
                max_tokens=self.max_tokens,
                truncate=self.truncate,
                local_files_only=self.local_files_only,
                revision=self.revision,
                max_batch_tokens=self.max_batch_tokens,
                show_progress=self.show_progress,
            )
        return self._engine

    @property
    def query_prompt(self) -> str:
        """The exact text put before every query."""
        return self.embedder.query_prompt(self.query_instruction, self.prompt_name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents as plain text, without any instruction."""
        vectors: list[list[float]] = self.embedder.embed_documents(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, prefixed with :attr:`query_prompt`."""
        vectors = self.embedder.embed_queries(
            [text], instruction=self.query_instruction, prompt_name=self.prompt_name
        )
        vector: list[float] = vectors[0].tolist()
        return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_query, text)
