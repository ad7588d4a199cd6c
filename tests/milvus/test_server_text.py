"""Text and metadata far over a real server's byte limits, stored and read back exactly.

A real Milvus server holds at most 65,535 UTF-8 bytes in a VARCHAR and 65,536 bytes in a JSON
field (Milvus Lite enforces neither, so only a server proves anything here).
"""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

import harrier
from harrier import SourceDocument, SpanRecord
from span_records import span_record

pytestmark = pytest.mark.server

CJK_EMOJI = "机器学习是人工智能的一个分支。向量数据库😀存储嵌入🚀。👩‍👩‍👧‍👦"
SENTENCE = "Rivers carry water from the hills down to the sea. "


def unit_vector(dimension: int, seed: int = 0) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def text_of_tokens(engine: harrier.Embedder, tokens: int) -> str:
    """CJK and emoji text of exactly ``tokens`` tokens (the longest such prefix of a repeat)."""
    source = CJK_EMOJI * (tokens // 2)
    low, high = 0, len(source)
    while low < high:  # the longest prefix with at most ``tokens`` tokens
        middle = (low + high + 1) // 2
        if engine.count_tokens([source[:middle]])[0] <= tokens:
            low = middle
        else:
            high = middle - 1
    text = source[:low]
    assert engine.count_tokens([text])[0] == tokens
    return text


def record(
    engine: harrier.Embedder, doc_id: str, text: str, metadata: dict, seed: int = 0
) -> SpanRecord:
    return span_record(
        doc_id,
        text,
        unit_vector(engine.dimension, seed),
        token_count=engine.count_tokens([text])[0],
        doc_hash="0" * 64,
        model=engine.model_name,
        metadata=metadata,
    )


def test_a_32768_token_cjk_and_emoji_span_comes_back_byte_for_byte(open_server_store, qwen_engine):
    text = text_of_tokens(qwen_engine, 32_768)
    assert len(text.encode("utf-8")) > 65_535
    assert len(harrier.split_spans(text, qwen_engine, max_tokens=32_768)) == 1  # one span
    emoji = "👩‍👩‍👧‍👦🚀" * 20_000  # 580,000 bytes, cut between the code points of a sequence
    store = open_server_store()
    store.ensure_collection(qwen_engine.identity, qwen_engine.dimension)
    spans = [
        record(qwen_engine, "long/1", text, {"lang": "zh"}, seed=1),
        record(qwen_engine, "long/2", emoji, {}, seed=2),
    ]
    store.upsert(spans)

    for span in spans:
        hit = store.search_vector(span.vector, k=1)[0]
        assert hit.text.encode("utf-8") == span.text.encode("utf-8")
        assert (hit.doc_id, hit.end, hit.metadata) == (span.doc_id, len(span.text), span.metadata)
        assert hit.score == pytest.approx(1.0, abs=1e-5)
        fetched = store.fetch_spans(span.doc_id)[0]
        assert fetched.text == span.text and fetched.token_count == span.token_count
    assert spans[0].token_count == 32_768
    raw = store.client.query(
        store.collection,
        filter='doc_id == "long/2"',
        output_fields=["text_parts"],
        consistency_level="Strong",
    )
    parts = raw[0]["text_parts"]
    assert len(parts) > 8 and all(len(p.encode("utf-8")) <= 65_535 for p in parts)


def test_one_varchar_cannot_hold_that_span_on_this_server(milvus_server, qwen_engine):
    """The reason for the layout: the server refuses the naive design."""
    client = MilvusClient(uri=milvus_server.uri, token=milvus_server.token)
    name = f"naive_{uuid.uuid4().hex[:8]}"
    schema = client.create_schema(auto_id=True, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535)
    client.create_collection(name, schema=schema)
    try:
        with pytest.raises(MilvusException, match="exceeds max length"):
            client.insert(name, [{"vector": [1.0, 0, 0, 0], "text": CJK_EMOJI * 3_000}])
    finally:
        client.drop_collection(name)
        client.close()


def test_metadata_over_the_json_limit_round_trips_and_stays_filterable(
    open_server_store, qwen_engine
):
    metadata = {
        "lang": "zh",
        "notes": "说明" * 20_000,
        "nested": {"ids": list(range(8_000))},
        "huge": 2**80,
        "emoji": "🚀" * 100,
    }
    assert len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) > 65_536
    store = open_server_store()
    harrier.ingest([SourceDocument("meta", SENTENCE, metadata)], store, qwen_engine)
    assert store.fetch_spans("meta")[0].metadata == metadata
    hits = store.search_vector(unit_vector(qwen_engine.dimension), k=5, filter={"lang": "zh"})
    assert [h.doc_id for h in hits] == ["meta"] and hits[0].metadata == metadata
    assert store.search_vector(unit_vector(qwen_engine.dimension), k=5, filter={"lang": "en"}) == []


def test_a_refused_write_fails_at_once_without_pymilvus_noise(
    open_server_store, qwen_engine, pymilvus_records, caplog
):
    store = open_server_store()
    store.ensure_collection(qwen_engine.identity, qwen_engine.dimension)
    too_long_id = "x" * 70_000  # over the server's 65,535 bytes for doc_id
    started = time.perf_counter()
    with pytest.raises(harrier.StoreLimitError, match="exceeds max length"):
        store.upsert([record(qwen_engine, too_long_id, "short text", {})])
    assert time.perf_counter() - started < 5 and "retrying" not in caplog.text
    assert pymilvus_records == []
