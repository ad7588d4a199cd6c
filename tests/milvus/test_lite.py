"""The connector on Milvus Lite: opening, retries, quiet failures, paging and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient, MilvusException

import harrier
import harrier_milvus._store as store_module
from harrier import SourceDocument
from harrier.stores import open_store
from harrier_milvus import DEFAULT_PATH, MilvusStore
from harrier_milvus._connection import quiet

SENTENCE = "Rivers carry water from the hills down to the sea. "


@pytest.fixture
def store(tmp_path: Path, qwen_engine: harrier.Embedder):
    opened = MilvusStore("docs", path=tmp_path / "lite.db")
    harrier.ingest([SourceDocument("a", SENTENCE, {"lang": "en"})], opened, qwen_engine)
    yield opened
    opened.close()


def records_of(store: MilvusStore) -> list[harrier.SpanRecord]:
    return store.fetch_spans("a")


def test_transient_write_errors_are_retried_with_backoff(store, monkeypatch, caplog):
    monkeypatch.setattr(harrier.stores.base.time, "sleep", lambda seconds: None)
    real_upsert, calls = store.client.upsert, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise MilvusException(code=2, message="Fail connecting to server")
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(store.client, "upsert", flaky)
    store.upsert(records_of(store))
    assert len(calls) == 3 and caplog.text.count("retrying") == 2


def test_a_store_that_stays_away_ends_in_a_resumable_error(store, monkeypatch):
    monkeypatch.setattr(harrier.stores.base.time, "sleep", lambda seconds: None)

    def down(*args, **kwargs):
        raise MilvusException(code=2, message="Fail connecting to server")

    monkeypatch.setattr(store.client, "delete", down)
    with pytest.raises(harrier.StoreWriteError, match="run the same command again"):
        store.delete_documents(["a"])


def test_other_write_errors_are_raised_at_once(store, monkeypatch):
    calls = []

    def refused(*args, **kwargs):
        calls.append(1)
        raise MilvusException(code=1100, message="the length (70000) exceeds max length")

    monkeypatch.setattr(store.client, "upsert", refused)
    with pytest.raises(harrier.StoreLimitError, match="exceeds max length"):
        store.upsert(records_of(store))
    assert calls == [1]


def test_pymilvus_tracebacks_stay_out_of_the_terminal_when_handled(store, pymilvus_records):
    with pytest.raises(MilvusException):
        store.client.describe_collection("missing")  # unhandled: pymilvus logs it
    assert "Traceback" in pymilvus_records.pop().getMessage()
    with quiet(), pytest.raises(MilvusException):
        store.client.describe_collection("missing")
    with pytest.raises(harrier.StoreError, match="describing"):
        store._read(
            "describing the collection", lambda: store.client.describe_collection("missing")
        )
    assert pymilvus_records == []


def test_search_takes_metadata_or_an_expression(store, qwen_engine):
    index = harrier.Index(store, qwen_engine)
    index.ingest([SourceDocument("b", SENTENCE + "again", {"lang": "fr"})])
    assert [h.doc_id for h in index.search("rivers", filter={"lang": "fr"})] == ["b"]
    assert [h.doc_id for h in index.search("rivers", filter='doc_id == "a"')] == ["a"]
    assert index.search("rivers", filter={"lang": "de"}) == []


def test_reads_page_through_more_rows_than_one_query(store, qwen_engine, monkeypatch):
    monkeypatch.setattr(store_module, "_ID_PAGE", 3)
    monkeypatch.setattr(store_module, "_RECORD_PAGE", 2)
    docs = [SourceDocument(f"d{i}", f"{SENTENCE} {i}") for i in range(7)]
    harrier.ingest([*docs, SourceDocument("long", SENTENCE * 8)], store, qwen_engine, max_tokens=24)
    assert sorted(store.iter_doc_ids()) == sorted(["a", "long", *(d.id for d in docs)])
    assert len(store.stored_documents([d.id for d in docs])) == 7
    spans = store.fetch_spans("long")
    assert len(spans) > 4 and [r.span_index for r in spans] == list(range(len(spans)))


def test_a_collection_not_made_by_harrier_is_refused(tmp_path, qwen_engine):
    client = MilvusClient(uri=str(tmp_path / "other.db"))
    client.create_collection("theirs", dimension=qwen_engine.dimension)
    client.close()
    store = MilvusStore("theirs", path=tmp_path / "other.db")
    with pytest.raises(harrier.CollectionMismatchError, match="not created by harrier"):
        harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    store.close()


def test_paths_a_folder_and_the_default(tmp_path, monkeypatch):
    store = MilvusStore("c", path=tmp_path / "folder")
    assert (tmp_path / "folder" / "milvus.db").is_dir() and "folder/milvus.db" in repr(store)
    store.close()
    store.close()  # closing twice is harmless
    monkeypatch.chdir(tmp_path)
    store = open_store("milvus", "c")
    assert isinstance(store, MilvusStore) and (tmp_path / DEFAULT_PATH).is_dir()
    store.close()
    first = open_store(f"milvus:{tmp_path / 'x.db'}", "c")
    first.ensure_collection(harrier.ModelIdentity("m", "f" * 64), 4)
    first.close()  # releases the file: it opens again, collection and all
    again = MilvusStore("c", path=tmp_path / "x.db")
    assert again.collection_model() == (harrier.ModelIdentity("m", "f" * 64), 4)
    again.close()


def test_a_lite_file_in_use_by_another_process_is_a_clear_error(tmp_path):
    db = tmp_path / "busy.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; "
            f"MilvusClient(uri={str(db)!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(harrier.StoreUnavailableError, match="one process"):
            MilvusStore("c", path=db)
    finally:
        holder.kill()
        holder.wait()


def test_an_unreachable_server_fails_fast(monkeypatch):
    monkeypatch.setenv("MILVUS_TOKEN", "root:sk-never-shown")
    started = time.perf_counter()
    with pytest.raises(harrier.StoreUnavailableError, match="cannot reach Milvus") as info:
        open_store("milvus:http://user:pa55@127.0.0.1:9", "c")
    assert time.perf_counter() - started < 5
    assert "pa55" not in str(info.value) and "sk-never-shown" not in str(info.value)


def test_the_command_line_on_milvus_lite(tmp_path, qwen_path, capfd, pymilvus_records):
    from harrier.cli import main

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("机器学习 " * 50, encoding="utf-8")
    common = [
        "--collection",
        "docs",
        "--store",
        f"milvus:{tmp_path / 'cli.db'}",
        "--model",
        str(qwen_path),
        "--device",
        "cpu",
        "--json",
    ]
    assert main(["ingest", str(tmp_path / "docs"), *common]) == 0
    assert main(["ingest", str(tmp_path / "docs"), *common]) == 0
    assert main(["search", "机器学习", "-k", "1", *common]) == 0
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert [json.loads(line)["unchanged"] for line in lines[:2]] == [0, 1]
    assert json.loads(lines[2])["text"] == "机器学习 " * 50
    assert "Traceback" not in err and pymilvus_records == []


def test_vectors_come_back_as_written(store, qwen_engine):
    (record,) = records_of(store)
    expected = qwen_engine.embed_documents([SENTENCE])[0]
    np.testing.assert_allclose(record.vector, expected, atol=1e-6)


def test_one_warning_when_a_lite_collection_outgrows_fast_search(tmp_path, caplog):
    from fault_harness import SYNTHETIC_MODEL, synthetic_records

    lite = MilvusStore("docs", path=tmp_path / "limit.db")
    lite.create_collection(SYNTHETIC_MODEL, 32)
    lite._size_watch.limit = 10
    with caplog.at_level("WARNING", logger="harrier"):
        lite.upsert(synthetic_records("a", 6))
        assert not caplog.records
        for doc in ("b", "c", "d"):
            lite.upsert(synthetic_records(doc, 6))
    warnings = [r.getMessage() for r in caplog.records if "Milvus Lite" in r.getMessage()]
    assert len(warnings) == 1 and "--store qdrant" in warnings[0] and "harrier copy" in warnings[0]
    assert lite.count() == 24
    lite.close()
