"""``HarrierRetriever``: a LangChain retriever over a harrier ``Index`` (Qdrant or Milvus)."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from harrier import DEFAULT_K, Hit, Index


class HarrierRetriever(BaseRetriever):
    """Retrieves spans from a harrier collection; the query gets the index's instruction.

    Each ``Document`` holds the span's exact text; its metadata is the document's metadata plus
    ``doc_id``, ``span_index``, ``start``, ``end`` and ``score``, and its ``id`` is the span id.
    ``mode`` is ``"hybrid"``, ``"dense"`` or ``"sparse"`` (default: hybrid where the collection
    has BM25 vectors); ``weights`` (dense, sparse) weigh a hybrid search's two arms.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    index: Index = Field(description="The harrier Index (store and embedder) to search.")
    k: int = Field(default=DEFAULT_K, ge=1, description="Number of spans to return.")
    filter: Any = Field(
        default=None,
        description="Metadata equality as a dict, or the store's own filter object.",
    )
    mode: Literal["hybrid", "dense", "sparse"] | None = Field(
        default=None, description="Search mode; default hybrid where BM25 vectors exist."
    )
    weights: tuple[float, float] | None = Field(
        default=None, description="Hybrid arm weights (dense, sparse); default equal."
    )

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: Any = None,
    ) -> list[Document]:
        """``k`` and ``filter`` given to ``invoke`` override the retriever's own."""
        hits = self.index.search(
            query,
            k=k or self.k,
            filter=self.filter if filter is None else filter,
            mode=self.mode,
            weights=self.weights,
        )
        return [_document(hit) for hit in hits]


def _document(hit: Hit) -> Document:
    metadata = {
        **hit.metadata,
        "doc_id": hit.doc_id,
        "span_index": hit.span_index,
        "start": hit.start,
        "end": hit.end,
        "score": hit.score,
    }
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)
