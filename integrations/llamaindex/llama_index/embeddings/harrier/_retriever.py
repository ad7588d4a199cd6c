"""``HarrierRetriever``: a LlamaIndex retriever over a harrier ``Index`` (Qdrant or Milvus)."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import VectorStoreQueryMode

from harrier import DEFAULT_K, ConfigurationError, Hit, Index

_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.HYBRID: "hybrid",
    VectorStoreQueryMode.SPARSE: "sparse",
    "dense": "dense",
}


class HarrierRetriever(BaseRetriever):
    """Retrieves spans from a harrier collection as scored ``TextNode``s.

    Each node holds the span's exact text and character offsets, the document's metadata, and a
    SOURCE relationship to its document id; the query gets the index's instruction.

    ``mode`` takes LlamaIndex's names: ``VectorStoreQueryMode.DEFAULT`` (or ``"dense"``),
    ``HYBRID`` or ``SPARSE`` (BM25); by default hybrid where the collection has BM25 vectors.
    ``alpha`` weighs a hybrid search as LlamaIndex does: ``alpha`` for dense, ``1 - alpha`` for
    sparse.
    """

    def __init__(
        self,
        index: Index,
        *,
        k: int = DEFAULT_K,
        filter: Any = None,
        mode: str | VectorStoreQueryMode | None = None,
        alpha: float | None = None,
        **kwargs: Any,
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        if mode is not None and mode not in _MODES:
            raise ConfigurationError(
                f"mode {mode!r} is not one harrier runs; use VectorStoreQueryMode.DEFAULT "
                "(dense), HYBRID or SPARSE"
            )
        if alpha is not None and not 0 <= alpha <= 1:
            raise ConfigurationError("alpha must be between 0 and 1")
        self.index = index
        self.k = k
        self.filter = filter
        self.mode = None if mode is None else _MODES[mode]
        self.weights = None if alpha is None else (alpha, 1 - alpha)
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.index.search(
            query_bundle.query_str,
            k=self.k,
            filter=self.filter,
            mode=self.mode,
            weights=self.weights,
        )
        return [NodeWithScore(node=_node(hit), score=hit.score) for hit in hits]


def _node(hit: Hit) -> TextNode:
    return TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={**hit.metadata, "doc_id": hit.doc_id, "span_index": hit.span_index},
        start_char_idx=hit.start,
        end_char_idx=hit.end,
        relationships=(  # none for a point another writer added
            {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.doc_id)} if hit.doc_id else {}
        ),
    )
