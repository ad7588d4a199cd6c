"""``HarrierTextSplitter``: LangChain's ``TextSplitter`` over ``harrier.split_spans``."""

from __future__ import annotations

import copy
import os
from typing import Any

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from harrier import (
    DEFAULT_MODEL,
    ConfigurationError,
    Embedder,
    EmbeddingEngine,
    Span,
    split_spans,
)
from langchain_harrier._embeddings import HarrierEmbeddings


class HarrierTextSplitter(TextSplitter):
    """Split text into spans of at most ``max_tokens`` of the model's own tokens.

    Every chunk is an exact slice of its text (nothing is stripped or rewritten), so with
    ``add_start_index=True`` the ``start_index`` metadata is the span's true offset:
    ``text[start_index:start_index + len(chunk)] == chunk``, even for repeated passages.

    Example:
        ```python
        from langchain_harrier import HarrierEmbeddings, HarrierTextSplitter

        embeddings = HarrierEmbeddings()
        splitter = HarrierTextSplitter(embeddings, max_tokens=512, add_start_index=True)
        chunks = splitter.split_documents(documents)
        ```
    """

    def __init__(
        self,
        embedder: EmbeddingEngine | HarrierEmbeddings | str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        max_tokens: int | None = None,
        overlap_tokens: int = 0,
        add_start_index: bool = False,
        device: str | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
    ) -> None:
        """Count tokens with ``embedder``: a ``harrier.Embedder`` (or any
        ``harrier.EmbeddingEngine``), a ``HarrierEmbeddings``, or a model id / folder (loaded
        with ``device``, ``local_files_only`` and ``revision``).

        ``max_tokens`` defaults to the embedder's ``max_tokens``; ``overlap_tokens`` tokens are
        repeated between neighbouring chunks. Raises ``harrier.ConfigurationError`` when they
        do not fit the model (checked here, not at the first split).
        """
        if isinstance(embedder, HarrierEmbeddings):
            embedder = embedder.embedder
        if isinstance(embedder, (str, os.PathLike)):
            self._embedder: EmbeddingEngine = Embedder.from_pretrained(
                os.fspath(embedder),
                device=device,
                local_files_only=local_files_only,
                revision=revision,
            )
        elif device is not None or local_files_only or revision is not None:
            raise ConfigurationError(
                "device, local_files_only and revision apply only when the splitter loads "
                "a model by name; set them on the embedder instead"
            )
        else:
            self._embedder = embedder
        self._max_tokens = max_tokens
        # Splitting "" checks max_tokens and overlap_tokens now, with harrier's typed errors.
        split_spans("", self._embedder, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
        super().__init__(
            chunk_size=max_tokens or self._embedder.max_tokens,
            chunk_overlap=overlap_tokens,
            length_function=self._count_tokens,
            add_start_index=add_start_index,
            strip_whitespace=False,
        )

    @property
    def embedder(self) -> EmbeddingEngine:
        """The engine whose tokenizer measures the chunks."""
        return self._embedder

    def _count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens([text])[0]

    def split_spans(self, text: str) -> list[Span]:
        """The chunks of ``text`` as ``harrier.Span`` (text, start, end, index, token_count)."""
        return split_spans(
            text,
            self._embedder,
            max_tokens=self._max_tokens,
            overlap_tokens=self._chunk_overlap,
        )

    def split_text(self, text: str) -> list[str]:
        """The chunks of ``text``, each an exact slice of it."""
        return [span.text for span in self.split_spans(text)]

    def create_documents(
        self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None
    ) -> list[Document]:
        """One ``Document`` per chunk; ``start_index`` (when asked for) is the exact offset."""
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
        documents = []
        for i, text in enumerate(texts):
            base = metadatas[i] if metadatas is not None else {}
            for span in self.split_spans(text):
                metadata = copy.deepcopy(base)
                if self._add_start_index:
                    metadata["start_index"] = span.start
                documents.append(Document(page_content=span.text, metadata=metadata))
        return documents
