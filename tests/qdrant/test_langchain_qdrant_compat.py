"""LangChain's own QdrantVectorStore reads a harrier collection as is."""

from __future__ import annotations

import pytest

import harrier
from harrier import SourceDocument
from harrier_qdrant import QdrantStore

langchain_qdrant = pytest.importorskip("langchain_qdrant")


class _EngineEmbeddings:
    """The smallest LangChain ``Embeddings``: the engine with the query instruction."""

    def __init__(self, engine: harrier.Embedder) -> None:
        self.engine = engine

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.engine.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.engine.embed_queries([text])[0].tolist()


def test_langchain_qdrant_reads_harrier_collection(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store = QdrantStore("shared", path=tmp_path / "q", local_mode=True)
    index = harrier.Index(store, engine)
    docs = [
        SourceDocument(f"d{i}", f"document number {i} about rivers and hills", {"n": i})
        for i in range(5)
    ]
    index.ingest(docs)
    ours = index.search("rivers", k=3, mode="dense")
    try:
        from langchain_core.embeddings import Embeddings

        embeddings = type("E", (_EngineEmbeddings, Embeddings), {})(engine)
        try:
            from langchain_harrier import HarrierEmbeddings

            embeddings = HarrierEmbeddings(model=str(qwen_path), device="cpu")
        except ImportError:
            pass
        vectorstore = langchain_qdrant.QdrantVectorStore(
            client=store.client, collection_name="shared", embedding=embeddings
        )
        theirs = vectorstore.similarity_search_with_score("rivers", k=3)
    finally:
        store.close()
    assert [doc.page_content for doc, _ in theirs] == [hit.text for hit in ours]
    assert [doc.metadata["n"] for doc, _ in theirs] == [hit.metadata["n"] for hit in ours]
    assert [round(score, 5) for _, score in theirs] == [round(h.score, 5) for h in ours]
