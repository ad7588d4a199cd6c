"""``HarrierEmbeddings``: LangChain's ``Embeddings`` over the harrier engine."""

from __future__ import annotations

import asyncio

from langchain_core.embeddings import Embeddings
from pydantic import ConfigDict

from harrier.adapters import EmbedderFields


class HarrierEmbeddings(EmbedderFields, Embeddings):
    """Harrier-OSS-v1 embeddings for LangChain: queries get the instruction, documents never.

    ``embed_query`` equals ``Embedder.embed_queries([text], instruction=query_instruction,
    prompt_name=prompt_name)`` and ``embed_documents`` equals ``Embedder.embed_documents``: plain
    text, L2-normalised, so the dot product is the cosine similarity. The engine fields are
    those of ``harrier.EmbedderSettings`` (``settings`` gives them as one value); the engine
    itself is ``embedder``.

    Example:
        ```python
        from langchain_harrier import HarrierEmbeddings

        embeddings = HarrierEmbeddings(model="microsoft/harrier-oss-v1-270m")
        vector = embeddings.embed_query("capital of France")
        ```
    """

    model_config = ConfigDict(extra="forbid")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents as plain text, without any instruction."""
        return self.embed_document_vectors(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, prefixed with :attr:`query_prompt`."""
        return self.embed_query_vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_query, text)
