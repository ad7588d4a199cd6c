"""``HarrierEmbedding``: a LlamaIndex embedding model backed by the shared ``harrier`` engine."""

from __future__ import annotations

import asyncio

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import ConfigDict, Field

from harrier import EmbeddingEngine
from harrier._deprecation import warn_renamed
from harrier.adapters import EmbedderFields


class HarrierEmbedding(EmbedderFields, BaseEmbedding):
    """Harrier-OSS-v1 embeddings for LlamaIndex.

    Queries get the query prompt (``query_instruction``, else ``prompt_name``, else the model's
    own retrieval prompt); texts and nodes are embedded as plain text, never with a prompt.
    The engine fields are those of ``harrier.EmbedderSettings``; the engine is ``embedder``.
    Batching is done by the engine by token budget; ``embed_batch_size`` only sets how many
    texts LlamaIndex hands over at once.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)

    embed_batch_size: int = Field(
        default=256,
        gt=0,
        le=2048,
        description="Texts handed to the engine per call; it batches them by token budget.",
    )

    @classmethod
    def class_name(cls) -> str:
        return "HarrierEmbedding"

    @property
    def engine(self) -> EmbeddingEngine:
        """Deprecated name of :attr:`embedder`."""
        warn_renamed("HarrierEmbedding.engine", "HarrierEmbedding.embedder")
        return self.embedder

    # -- the hooks BaseEmbedding calls ---------------------------------------------------------
    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_query_vector(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.embed_document_vectors(texts)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
