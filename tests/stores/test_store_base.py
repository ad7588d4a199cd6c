"""What the store base class does once for every store, and identities that survive reordering."""

from __future__ import annotations

import json
import logging
import socket

import numpy as np
import pytest

import harrier
from harrier import SourceDocument, SpanRecord

TEXTS = [
    "Rivers carry water to the sea.",
    "Mountains rise above the clouds.",
    "Rivers carry water to the sea.",
]  # the third repeats the first exactly


def test_search_checks_the_collection_once(open_store, qwen_engine, monkeypatch):
    store = open_store()
    harrier.ingest([SourceDocument("a", TEXTS[0])], store, qwen_engine)
    index = harrier.Index(store, qwen_engine)
    calls = []
    checked = store.collection_properties
    monkeypatch.setattr(store, "collection_properties", lambda: calls.append(1) or checked())
    assert index.search("water", k=1)[0].doc_id == "a"
    assert len(calls) == 1  # model, dimension and BM25 vectors read in one call
    for _ in range(3):
        assert index.search("water", k=1)[0].doc_id == "a"
    assert len(calls) == 1  # none on later searches


def test_many_documents_are_deleted_in_chunks(open_store, qwen_engine, monkeypatch):
    store = open_store()
    docs = [SourceDocument(f"d{i}", f"{TEXTS[1]} {i}") for i in range(5)]
    harrier.ingest(docs, store, qwen_engine)
    chunks = []
    delete = store.delete_document_chunk
    monkeypatch.setattr(store, "delete_chunk_size", 2)
    monkeypatch.setattr(
        store, "delete_document_chunk", lambda ids: chunks.append(list(ids)) or delete(ids)
    )
    report = harrier.ingest(docs[:1], store, qwen_engine, prune=True)
    assert report.documents_pruned == 4 and [len(c) for c in chunks] == [2, 2]
    assert list(store.iter_doc_ids()) == ["d0"] and store.count() == 1


def test_id_less_records_keep_their_ids_when_reordered(open_store, qwen_engine, tmp_path):
    from langchain_core.documents import Document

    store = open_store()
    jsonl = tmp_path / "docs.jsonl"
    records = [{"text": t, "metadata": {"n": 1}} for t in TEXTS]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    first = harrier.ingest(jsonl, store, qwen_engine)
    ids = sorted(store.iter_doc_ids())
    assert first.documents == 3 and len(ids) == 3 and sum("#2" in i for i in ids) == 1

    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records[::-1]), encoding="utf-8")
    again = harrier.ingest(jsonl, store, qwen_engine, prune=True)
    assert (again.unchanged, again.spans_written, again.documents_pruned) == (3, 0, 0)
    assert sorted(store.iter_doc_ids()) == ids

    edited = [records[0], {"text": "Mountains rise above the sea.", "metadata": {"n": 1}}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in edited), encoding="utf-8")
    changed = harrier.ingest(jsonl, store, qwen_engine, prune=True)  # an edit: a new document
    assert (changed.unchanged, changed.spans_written, changed.documents_pruned) == (1, 1, 2)

    lc_docs = [Document(page_content=t) for t in TEXTS[:2]]
    harrier.ingest(lc_docs, store, qwen_engine)
    assert harrier.ingest(lc_docs[::-1], store, qwen_engine).unchanged == 2


def test_span_records_compare_by_value():
    fields = dict(
        id="i",
        text="t",
        doc_id="d",
        span_index=0,
        span_count=1,
        start=0,
        end=1,
        token_count=3,
        doc_hash="h",
        model="m",
        metadata={"k": [1]},
    )
    a = SpanRecord(vector=np.array([0.5, 0.25], dtype=np.float32), **fields)
    same = SpanRecord(vector=np.array([0.5, 0.25], dtype=np.float32), **fields)
    assert a == same
    assert a != SpanRecord(vector=np.array([0.5, 0.3], dtype=np.float32), **fields)
    assert a != SpanRecord(vector=a.vector, **{**fields, "text": "u"})
    assert a != "not a record"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_qdrant(monkeypatch):
    """A QdrantStore whose server went away after it connected: every call is refused."""
    from qdrant_client import QdrantClient

    from harrier_qdrant import QdrantStore

    monkeypatch.setattr(harrier.VectorStore, "retry_delay", 0.01)
    client = QdrantClient(
        url=f"http://127.0.0.1:{_closed_port()}", timeout=2, check_compatibility=False
    )
    return QdrantStore("docs", client=client)


def test_a_qdrant_server_that_went_away_is_a_typed_read_error(unreachable_qdrant):
    reads = [
        unreachable_qdrant.collection_model,
        unreachable_qdrant.count,
        lambda: unreachable_qdrant.stored_documents(["a"]),
        lambda: list(unreachable_qdrant.iter_doc_ids()),
        lambda: unreachable_qdrant.search_vector(np.ones(4, np.float32), 3),
    ]
    for read in reads:
        with pytest.raises(harrier.StoreUnavailableError, match="failed after 5 attempts"):
            read()
    with pytest.raises(harrier.StoreWriteError, match="run the same command again"):
        unreachable_qdrant.delete_documents(["a"])


def test_the_command_line_prints_one_line_for_a_read_error(
    unreachable_qdrant, qwen_path, monkeypatch, capsys
):
    from harrier import cli

    monkeypatch.setattr(cli, "open_store", lambda spec, collection, **_: unreachable_qdrant)
    with pytest.raises(SystemExit) as exited:
        cli.main(
            [
                "search",
                "water",
                "--collection",
                "docs",
                "--model",
                str(qwen_path),
                "--device",
                "cpu",
            ]
        )
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.startswith("harrier: error: checking the collection in 'docs' failed after 5 ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_pruning_keeps_documents_that_are_still_in_the_source_but_unreadable(
    open_store, qwen_engine, tmp_path, caplog
):
    """One bad record never deletes data: a record skipped this run (metadata JSON cannot hold,
    a text that is not a string) keeps its stored spans under ``prune``; a line whose id cannot
    be read might be any stored document, so then nothing is pruned and the report says why;
    once the source is fixed, pruning deletes what is really gone."""
    store = open_store()
    jsonl = tmp_path / "docs.jsonl"

    def write(*lines: str) -> None:
        jsonl.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    x, y, z = (json.dumps({"id": i, "text": TEXTS[n]}) for n, i in enumerate("xyz"))
    write(x, y, z)
    harrier.ingest(jsonl, store, qwen_engine)
    write('{"id": "x", "text": "edited", "metadata": {"n": NaN}}', '{"id": "y", "text": 1}', z)
    bad = harrier.ingest(jsonl, store, qwen_engine, prune=True)
    assert (bad.skipped, bad.documents_pruned, bad.prune_skipped) == (2, 0, None)
    assert sorted(store.iter_doc_ids()) == ["x", "y", "z"]

    caplog.set_level(logging.WARNING, logger="harrier")
    write(z, '{"id": "x", broken')
    unknown = harrier.ingest(jsonl, store, qwen_engine, prune=True)
    assert (unknown.documents_pruned, unknown.prune_skipped) == (0, "1 records without a known id")
    assert "prune skipped" in unknown.summary() and "docs.jsonl:2" in caplog.text
    assert sorted(store.iter_doc_ids()) == ["x", "y", "z"]

    write(z)
    fixed = harrier.ingest(jsonl, store, qwen_engine, prune=True)
    assert (fixed.documents_pruned, fixed.prune_skipped) == (2, None)
    assert list(store.iter_doc_ids()) == ["z"]


def test_pruning_keeps_a_file_that_cannot_be_read_this_time(open_store, qwen_engine, tmp_path):
    store = open_store()
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in (("a.txt", TEXTS[0]), ("b.txt", TEXTS[1])):
        (folder / name).write_text(text, encoding="utf-8")
    harrier.ingest(folder, store, qwen_engine)
    (folder / "a.txt").write_bytes(b"now \xff\xfe not UTF-8")
    report = harrier.ingest(folder, store, qwen_engine, prune=True)
    assert (report.skipped, report.documents_pruned) == (1, 0)
    assert sorted(store.iter_doc_ids()) == ["a.txt", "b.txt"]
