"""The pipeline's guarantees on a real Milvus server, and results shaped like Qdrant's."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from pymilvus import MilvusClient

import harrier
from harrier import SourceDocument
from harrier_milvus import MilvusStore

pytestmark = pytest.mark.server

SENTENCE = "Rivers carry water from the hills down to the sea. "


def spans_text(engine: harrier.Embedder, spans: int) -> str:
    words = SENTENCE.split()
    text = ""
    for i in range(10_000):
        text += words[i % len(words)] + " "
        if len(harrier.split_spans(text, engine, max_tokens=24)) == spans:
            return text
    raise AssertionError("no such text")


def test_rerun_writes_nothing_and_a_document_shrinks_from_five_spans_to_two(
    open_server_store, qwen_engine
):
    store = open_server_store()
    docs = [SourceDocument("doc", spans_text(qwen_engine, 5)), SourceDocument("other", SENTENCE)]
    first = harrier.ingest(docs, store, qwen_engine, max_tokens=24)
    other_spans = len(harrier.split_spans(SENTENCE, qwen_engine, max_tokens=24))
    assert first.spans_written == store.count() == 5 + other_spans
    again = harrier.ingest(docs, store, qwen_engine, max_tokens=24)
    assert (again.unchanged, again.spans_written, again.tokens) == (2, 0, 0)

    short = spans_text(qwen_engine, 2)
    shrunk = harrier.ingest(
        [SourceDocument("doc", short)], store, qwen_engine, max_tokens=24, prune=True
    )
    assert (shrunk.spans_written, shrunk.spans_deleted, shrunk.documents_pruned) == (2, 3, 1)
    records = store.fetch_spans("doc")
    assert [r.span_index for r in records] == [0, 1] and {r.span_count for r in records} == {2}
    assert "".join(r.text for r in records) == short
    assert store.count() == 2 and list(store.iter_doc_ids()) == ["doc"]


def test_a_mismatched_model_is_refused(open_server_store, qwen_engine, gemma_path):
    store = open_server_store()
    harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    other = harrier.Embedder.from_pretrained(gemma_path, device="cpu")
    reopened = open_server_store(store.collection)
    with pytest.raises(harrier.CollectionMismatchError, match="refusing"):
        harrier.ingest([SourceDocument("b", SENTENCE)], reopened, other)
    with pytest.raises(harrier.CollectionMismatchError):
        harrier.Index(reopened, other).search("anything")
    assert reopened.count() == 1


def test_search_results_have_the_shape_of_qdrants(open_server_store, qwen_engine, tmp_path):
    from harrier_qdrant import QdrantStore

    docs = [
        SourceDocument(f"d{i}", f"{word} {SENTENCE}", {"i": i, "tags": ["x", word]})
        for i, word in enumerate(["alpha", "beta", "gamma", "delta", "epsilon"])
    ]
    qdrant = harrier.Index(QdrantStore("same", path=tmp_path / "qdrant"), qwen_engine)
    milvus = harrier.Index(open_server_store(), qwen_engine)
    for index in (qdrant, milvus):
        index.ingest(docs)
    for flt in (None, {"i": 2}):
        expected = qdrant.search("gamma rivers", k=3, filter=flt, mode="dense")
        hits = milvus.search("gamma rivers", k=3, filter=flt, mode="dense")
        assert len(hits) == len(expected) > 0
        for ours, theirs in zip(hits, expected, strict=True):
            assert type(ours) is type(theirs) is harrier.Hit
            ours_dict, theirs_dict = ours.to_dict(), theirs.to_dict()
            assert {k: type(v) for k, v in ours_dict.items()} == {
                k: type(v) for k, v in theirs_dict.items()
            }
            assert ours_dict == {**theirs_dict, "score": pytest.approx(theirs.score, abs=1e-5)}
    qdrant.close()


def test_a_wrong_token_is_refused_fast_and_never_shown(milvus_server, monkeypatch, caplog, capfd):
    if not milvus_server.authentication:
        pytest.skip(f"the {milvus_server.name} server runs without authentication")
    secret = "root:sk-harrier-secret-42"
    monkeypatch.setenv("MILVUS_TOKEN", secret)
    started = time.perf_counter()
    with caplog.at_level("DEBUG"), pytest.raises(harrier.StoreUnavailableError) as info:
        MilvusStore("x", url=milvus_server.uri)
    assert time.perf_counter() - started < 5
    assert "MILVUS_TOKEN" in str(info.value)
    with pytest.raises(harrier.StoreUnavailableError) as passed:
        MilvusStore("x", url=milvus_server.uri, token=secret)
    out, err = capfd.readouterr()
    for text in (str(info.value), repr(info.value), str(passed.value), caplog.text, out, err):
        assert secret not in text and "sk-harrier" not in text
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_reads_page_through_more_rows_than_one_query(open_server_store, qwen_engine, monkeypatch):
    import harrier_milvus._store as store_module

    monkeypatch.setattr(store_module, "_ID_PAGE", 4)
    monkeypatch.setattr(store_module, "_RECORD_PAGE", 2)
    store = open_server_store()
    docs = [
        SourceDocument(f"d{i:02d}", spans_text(qwen_engine, 3) if i == 0 else SENTENCE)
        for i in range(11)
    ]
    harrier.ingest(docs, store, qwen_engine, max_tokens=24)
    assert sorted(store.iter_doc_ids()) == [d.id for d in docs]
    assert len(store.stored_documents([d.id for d in docs])) == 11
    assert [r.span_index for r in store.fetch_spans("d00")] == [0, 1, 2]


def test_the_command_line_ingests_and_searches_a_server(
    milvus_server, qwen_path, tmp_path, monkeypatch, capsys
):
    from harrier.cli import main

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(SENTENCE * 3, encoding="utf-8")
    monkeypatch.setenv("MILVUS_TOKEN", milvus_server.token)
    name = f"cli_{uuid.uuid4().hex[:8]}"
    common = [
        "--collection",
        name,
        "--store",
        f"milvus:{milvus_server.uri}",
        "--model",
        str(qwen_path),
        "--device",
        "cpu",
        "--json",
    ]
    try:
        assert main(["ingest", str(tmp_path / "docs"), *common, "--no-sparse"]) == 0
        assert json.loads(capsys.readouterr().out)["spans_written"] == 1
        assert main(["search", "rivers", *common]) == 0
        hit = json.loads(capsys.readouterr().out.splitlines()[0])
        assert (hit["doc_id"], hit["text"]) == ("a.md", SENTENCE * 3)
    finally:
        client = MilvusClient(uri=milvus_server.uri, token=milvus_server.token)
        client.drop_collection(name)
        client.close()
