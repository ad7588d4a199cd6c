"""The BM25 side both Qdrant stores (Edge and qdrant-client) share.

A collection with BM25 vectors holds, beside the unnamed dense vector, a sparse vector named
``langchain-sparse`` (langchain_qdrant's default) with the IDF modifier: the term weights come
from :class:`harrier.Bm25Encoder`, and Qdrant multiplies by IDF over the collection as it is.
Hybrid search is Qdrant's own: two prefetches (dense, BM25) with the same filter, fused by RRF.
"""

from __future__ import annotations

from typing import Any

from harrier import (
    SPARSE_VECTOR_NAME,
    Bm25Encoder,
    Bm25Settings,
    NoSparseVectorsError,
    SpanRecord,
)
from harrier.stores import RRF_K

RRF_CONSTANT = RRF_K + 1
"""Qdrant adds ``1 / (k - 1 + rank)``: k = RRF_K + 1 gives Milvus' ``1 / (60 + rank)``."""


class SparseVectors:
    """BM25 term weights of records and queries, for a store whose collection may hold them
    (mixed into a ``VectorStore``, which provides ``has_sparse_vectors``)."""

    sparse: bool
    bm25: Bm25Settings
    _encoder: Bm25Encoder | None = None

    @property
    def encoder(self) -> Bm25Encoder:
        if self._encoder is None:
            self._encoder = Bm25Encoder(self.bm25)
        return self._encoder

    def document_weights(self, record: SpanRecord) -> tuple[list[int], list[float]] | None:
        """The BM25 vector of ``record``, or None when the collection holds no BM25 vectors."""
        if not self.has_sparse_vectors():  # type: ignore[attr-defined]
            return None
        return self.encoder.embed_document(record.text)

    def query_weights(self, text: str) -> tuple[list[int], list[float]]:
        """The BM25 query vector of ``text``; ``NoSparseVectorsError`` without BM25 vectors."""
        if not self.has_sparse_vectors():  # type: ignore[attr-defined]
            raise NoSparseVectorsError(self.no_sparse_message())  # type: ignore[attr-defined]
        return self.encoder.embed_query(text)


def weights_list(weights: tuple[float, float] | None) -> list[float] | None:
    return None if weights is None else [float(w) for w in weights]


def dense_and_sparse(dense: list[float], sparse: Any | None, make_sparse: Any) -> Any:
    """A point's vectors: the dense list alone, or ``{"": dense, name: make_sparse(*sparse)}``."""
    if sparse is None:
        return dense
    return {"": dense, SPARSE_VECTOR_NAME: make_sparse(*sparse)}
