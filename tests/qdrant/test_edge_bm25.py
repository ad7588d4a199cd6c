"""Qdrant Edge with BM25 vectors: the HNSW index is still built after a load."""

from __future__ import annotations

import pytest

from fault_harness import SYNTHETIC_MODEL
from fault_harness import synthetic_records as records

pytest.importorskip("qdrant_edge")
from harrier_qdrant import QdrantEdgeStore


def test_a_load_with_bm25_vectors_builds_the_dense_index(tmp_path):
    """Edge counts a span's BM25 vector as indexed at once: the decision to build HNSW must
    count the dense vectors alone, or a collection with BM25 vectors would never get one."""
    store = QdrantEdgeStore("docs", path=tmp_path)
    store.indexing_threshold_kb = 10
    store.optimize_min_unindexed = 100
    store.create_collection(SYNTHETIC_MODEL, 32)
    stored = [r for d in range(5) for r in records(f"d{d}", 100, seed=d)]
    store.upsert(stored)
    assert store.shard.info().indexed_vectors_count == len(stored)  # the BM25 vectors only
    store.end_bulk_load()
    assert store.shard.info().indexed_vectors_count == 2 * len(stored)  # dense ones too
    word = stored[17].text.split()[0]
    assert stored[17].id in {h.id for h in store.search_sparse(word, 500)}
    store.close()
