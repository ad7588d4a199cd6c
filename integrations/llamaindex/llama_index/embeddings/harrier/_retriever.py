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

from harrier import DEFAULT_K, Hit, Index


class HarrierRetriever(BaseRetriever):
    """Retrieves spans from a harrier collection as scored ``TextNode``s.

    Each node holds the span's exact text and character offsets, the document's metadata, and a
    SOURCE relationship to its document id; the query gets the index's instruction.
    """

    def __init__(
        self, index: Index, *, k: int = DEFAULT_K, filter: Any = None, **kwargs: Any
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.index = index
        self.k = k
        self.filter = filter
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.index.search(query_bundle.query_str, k=self.k, filter=self.filter)
        return [NodeWithScore(node=_node(hit), score=hit.score) for hit in hits]


def _node(hit: Hit) -> TextNode:
    return TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={**hit.metadata, "doc_id": hit.doc_id, "span_index": hit.span_index},
        start_char_idx=hit.start,
        end_char_idx=hit.end,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.doc_id)},
    )
