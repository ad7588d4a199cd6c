"""``HarrierSparseEmbeddings``: harrier's BM25 vectors as ``langchain_qdrant`` sparse embeddings."""

from __future__ import annotations

from harrier import Bm25Encoder, Bm25Settings

try:
    from langchain_qdrant import SparseEmbeddings, SparseVector
except ImportError as exc:
    raise ImportError(
        "HarrierSparseEmbeddings plugs into langchain-qdrant: pip install langchain-qdrant "
        "'harrier-suite[qdrant]'"
    ) from exc


class HarrierSparseEmbeddings(SparseEmbeddings):
    """The BM25 vectors harrier writes into Qdrant (same terms, weights and term indices), so
    ``QdrantVectorStore(retrieval_mode=RetrievalMode.HYBRID, sparse_embedding=...)`` searches a
    harrier collection, and documents added through LangChain match harrier's.

    Example:
        ```python
        from langchain_qdrant import QdrantVectorStore, RetrievalMode
        from langchain_harrier import HarrierEmbeddings, HarrierSparseEmbeddings

        store = QdrantVectorStore(client, "docs", embedding=HarrierEmbeddings(),
                                  sparse_embedding=HarrierSparseEmbeddings(),
                                  retrieval_mode=RetrievalMode.HYBRID)
        ```
    """

    def __init__(self, settings: Bm25Settings | None = None) -> None:
        self.encoder = Bm25Encoder(settings)

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [
            SparseVector(indices=i, values=v) for i, v in map(self.encoder.embed_document, texts)
        ]

    def embed_query(self, text: str) -> SparseVector:
        indices, values = self.encoder.embed_query(text)
        return SparseVector(indices=indices, values=values)
