"""BM25 on Milvus: spans over a VARCHAR's 65,535 bytes, and servers without the BM25 function."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import harrier
from harrier.stores import document_terms
from harrier_milvus import MilvusStore
from harrier_milvus._bm25 import bm25_text
from span_records import span_record


def test_bm25_text_is_every_term_when_it_fits():
    text = "Rain in Tokyo 東京の雨 " * 10
    assert bm25_text(text).split(" ") == document_terms(text)


def test_a_long_text_keeps_every_term_with_proportional_counts():
    words = [f"word{i}" for i in range(300)]
    text = " ".join(["common"] * 40_000 + ["rare"] * 400 + words + ["needle"])
    prepared = bm25_text(text, limit=20_000)
    assert len(prepared.encode("utf-8")) <= 20_000 < len(" ".join(document_terms(text)))
    counts = Counter(prepared.split(" "))
    assert set(counts) == set(document_terms(text))  # the whole span: every distinct term
    assert counts["common"] / counts["rare"] == pytest.approx(100, rel=0.05)
    assert counts["needle"] == 1


def test_distinct_terms_beyond_the_limit_keep_the_first_ones():
    text = " ".join(f"t{i:05d}" for i in range(5000))
    prepared = bm25_text(text, limit=1_000).split(" ")
    assert prepared == [f"t{i:05d}" for i in range(len(prepared))] and len(prepared) > 100


def test_a_span_over_65535_bytes_is_found_by_a_word_at_its_end(
    tmp_path: Path, qwen_engine: harrier.Embedder
):
    store = MilvusStore("long", path=tmp_path / "lite.db")
    store.ensure_collection(qwen_engine.identity, qwen_engine.dimension)
    text = "东京 天气 " * 20_000 + "rivers end with a needle"  # 240 kB of UTF-8
    vector = np.ones(qwen_engine.dimension, dtype=np.float32) / np.sqrt(qwen_engine.dimension)
    records = [
        span_record(doc, body, vector)
        for doc, body in (("long", text), ("short", "rivers of words"))
    ]
    store.upsert(records)
    (hit,) = store.search_sparse("needle", 5)
    assert (hit.doc_id, hit.text) == ("long", text)
    assert [h.doc_id for h in store.search_sparse("天气", 5)] == ["long"]
    store.close()


@pytest.mark.server
def test_a_server_without_bm25_refuses_a_hybrid_collection(
    milvus_server, open_server_store, qwen_engine
):
    if milvus_server.bm25:
        pytest.skip("this server has the BM25 function")
    name = open_server_store().collection
    hybrid = MilvusStore(name, url=milvus_server.uri, token=milvus_server.token, sparse=True)
    try:
        with pytest.raises(harrier.StoreError, match=r"Milvus >= 2\.5.*--no-sparse"):
            hybrid.ensure_collection(qwen_engine.identity, qwen_engine.dimension)
        assert not hybrid.client.has_collection(name)  # nothing half made
    finally:
        hybrid.close()
    dense = open_server_store(name)  # dense-only, as --no-sparse makes it
    index = harrier.Index(dense, qwen_engine)
    index.ingest([harrier.SourceDocument("a", "rivers and hills")])
    assert index.resolve_mode() == "dense"
    assert [h.doc_id for h in index.search("rivers", k=1)] == ["a"]
    with pytest.raises(harrier.NoSparseVectorsError):
        index.search("rivers", mode="hybrid")
