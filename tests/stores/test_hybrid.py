"""Hybrid retrieval on every embedded store, against BM25 and RRF computed here."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import harrier
from harrier import SourceDocument
from harrier.stores import arm_limit, document_terms, query_terms
from harrier.testing.store_contract import CORPUS

K1, B, AVG_LEN = 1.2, 0.75, 256.0


def _docs() -> list[SourceDocument]:
    return [SourceDocument(i, t, {"lang": i[:2]}) for i, t in CORPUS.items()]


@pytest.fixture
def index(open_store, qwen_engine):
    built = harrier.Index(open_store(), qwen_engine)
    built.ingest(_docs())
    return built


def reference_bm25(query: str, avg_len: float | None) -> dict[str, float]:
    """Okapi BM25 with IDF ln(1 + (N - n + 0.5) / (n + 0.5)) over harrier's terms;
    ``avg_len`` None: the corpus' own average length (Milvus)."""
    docs = {i: Counter(document_terms(t)) for i, t in CORPUS.items()}
    lengths = {i: sum(c.values()) for i, c in docs.items()}
    average = avg_len or sum(lengths.values()) / len(lengths)
    n = len(docs)
    scores: dict[str, float] = {}
    for term in set(query_terms(query)):
        having = [i for i, c in docs.items() if term in c]
        idf = math.log(1 + (n - len(having) + 0.5) / (len(having) + 0.5))
        for i in having:
            tf = docs[i][term]
            norm = K1 * (1 - B + B * lengths[i] / average)
            scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
    return scores


def test_the_bm25_arm_scores_like_okapi_bm25_computed_here(index):
    milvus = type(index.store).__name__ == "MilvusStore"
    for query in [
        "river library",
        "天気 雨",
        "Москва библиотека",
        "bibliothèque dimanche",
        "المكتبة الجديدة",
        "cats river",
    ]:
        expected = reference_bm25(query, None if milvus else AVG_LEN)
        hits = index.search(query, k=len(CORPUS), mode="sparse")
        assert {h.doc_id for h in hits} == set(expected), query
        np.testing.assert_allclose(
            [h.score for h in hits], [expected[h.doc_id] for h in hits], rtol=1e-4
        )
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hybrid_is_reciprocal_rank_fusion_of_the_two_arms(index, qwen_engine):
    query, k = "the river library garden", 5
    vector = qwen_engine.embed_queries([query])[0]
    dense = index.store.search_vector(vector, arm_limit(k))
    sparse = index.store.search_sparse(query, arm_limit(k))
    for weights in (None, (1.0, 3.0)):
        w_dense, w_sparse = weights or (1.0, 1.0)
        fused: dict[str, float] = {}
        for arm, weight in ((dense, w_dense), (sparse, w_sparse)):
            for rank, hit in enumerate(arm, start=1):
                fused[hit.id] = fused.get(hit.id, 0.0) + 1 / (rank / weight + 60)
        hits = index.search(query, k=k, mode="hybrid", weights=weights)
        assert len(hits) == k
        np.testing.assert_allclose(
            [h.score for h in hits], sorted(fused.values())[::-1][:k], rtol=1e-6
        )
        np.testing.assert_allclose([h.score for h in hits], [fused[h.id] for h in hits], rtol=1e-6)


def test_replaced_and_pruned_documents_leave_the_bm25_arm(open_store, qwen_engine):
    index = harrier.Index(open_store(), qwen_engine)
    index.ingest(_docs())
    changed = [d for d in _docs() if d.id not in ("ja-1", "en-2")]
    changed.append(SourceDocument("ja-1", "Completely new words: zebra xylophone.", {}))
    report = index.ingest(changed, prune=True)
    assert (report.spans_written, report.documents_pruned) == (1, 1)
    assert index.search("天気", k=3, mode="sparse") == []
    assert [h.doc_id for h in index.search("xylophone", k=3, mode="sparse")] == ["ja-1"]
    assert [h.doc_id for h in index.search("sunday", k=3, mode="sparse")] == []
    again = index.ingest(changed, prune=True)
    assert (again.spans_written, again.unchanged) == (0, len(changed))


def test_a_dense_only_collection_says_how_to_get_hybrid(open_store, qwen_engine):
    store = open_store()
    store.sparse = False
    index = harrier.Index(store, qwen_engine)
    index.ingest(_docs())
    assert index.resolve_mode() == "dense"
    assert index.search("garden", k=2)  # dense by default
    for mode in ("hybrid", "sparse"):
        with pytest.raises(harrier.NoSparseVectorsError, match="--no-sparse"):
            index.search("garden", mode=mode)
    with pytest.raises(harrier.ConfigurationError, match="unknown search mode"):
        index.search("garden", mode="bm25")


def test_another_bm25_configuration_is_refused(open_store, qwen_engine):
    harrier.Index(open_store(), qwen_engine).ingest(_docs()[:2])
    store = open_store()
    store.bm25 = harrier.Bm25Settings(k=1.5)
    with pytest.raises(harrier.CollectionMismatchError, match="BM25"):
        harrier.Index(store, qwen_engine).ingest(_docs()[:2])


def test_bad_weights_are_refused(index):
    for weights in [(0.0, 0.0), (1.0,), (-1.0, 2.0)]:
        with pytest.raises(harrier.ConfigurationError, match="weights"):
            index.search("garden", weights=weights)  # type: ignore[arg-type]
