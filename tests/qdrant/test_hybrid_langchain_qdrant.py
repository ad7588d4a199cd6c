"""langchain_qdrant's hybrid mode searches a harrier collection with HarrierSparseEmbeddings."""

from __future__ import annotations

import pytest

import harrier
from harrier import SourceDocument
from harrier_qdrant import QdrantStore

langchain_qdrant = pytest.importorskip("langchain_qdrant")
langchain_harrier = pytest.importorskip("langchain_harrier")

TEXTS = [
    "rivers carry water to the sea",
    "机器学习是人工智能的一个分支",
    "la bibliothèque ferme",
    "hills and valleys",
    "Москва — столица России",
    "the sea is calm tonight",
]


def test_langchain_qdrant_searches_a_harrier_collection_with_its_bm25_vectors(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store = QdrantStore("shared", path=tmp_path / "q", local_mode=True)  # a QdrantClient
    index = harrier.Index(store, engine)
    index.ingest([SourceDocument(f"d{i}", t, {"n": i}) for i, t in enumerate(TEXTS)])
    sparse = langchain_harrier.HarrierSparseEmbeddings()
    try:
        vectorstore = langchain_qdrant.QdrantVectorStore(
            client=store.client,
            collection_name="shared",
            embedding=langchain_harrier.HarrierEmbeddings(model=str(qwen_path), device="cpu"),
            sparse_embedding=sparse,
            retrieval_mode=langchain_qdrant.RetrievalMode.HYBRID,
            sparse_vector_name=harrier.SPARSE_VECTOR_NAME,
        )
        for query in ("学习", "bibliotheque", "столица", "calm sea"):
            theirs = vectorstore.similarity_search(query, k=3)
            ours = index.search(query, k=3, mode="sparse")
            assert ours[0].text in [d.page_content for d in theirs]  # fused with the dense arm
        only_sparse = langchain_qdrant.QdrantVectorStore(
            client=store.client,
            collection_name="shared",
            sparse_embedding=sparse,
            retrieval_mode=langchain_qdrant.RetrievalMode.SPARSE,
        )
        theirs_sparse = only_sparse.similarity_search_with_score("the sea", k=6)
        ours_sparse = index.search("the sea", k=6, mode="sparse")
        assert [(d.page_content, round(s, 5)) for d, s in theirs_sparse] == [
            (h.text, round(h.score, 5)) for h in ours_sparse
        ]
    finally:
        store.close()
