"""The embedding stage's parts: progress moves between them, and they never shrink the engine's
batches (an H200 ingest fell to 0.53x of embedding alone while parts were 16,384 tokens and a
GPU batch 65,536)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

import harrier
from harrier import SourceDocument
from harrier.ingestion import _ingest
from harrier.ingestion._ingest import PART_TOKENS, part_tokens


@pytest.mark.parametrize(
    ("engine", "tokens"),
    [
        (SimpleNamespace(max_batch_tokens=8_192, devices=["cpu"]), PART_TOKENS),
        (SimpleNamespace(max_batch_tokens=65_536, devices=["cuda:0"]), 65_536),
        (SimpleNamespace(max_batch_tokens=65_536, devices=["cuda:0", "cuda:1"]), 131_072),
        (SimpleNamespace(max_batch_tokens=65_536), 65_536),
        (SimpleNamespace(), PART_TOKENS),  # a server: no batch budget here
    ],
)
def test_a_part_holds_a_full_batch_per_device(engine, tokens):
    assert part_tokens(engine) == tokens


def test_a_group_within_the_engine_budget_is_embedded_in_one_call(tmp_path, qwen_path):
    from harrier_qdrant import QdrantStore

    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=65_536)
    calls: list[int] = []
    embed = engine.embed_token_ids

    def counting(rows, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(sum(len(row) for row in rows))
        return embed(rows, **kwargs)

    engine.embed_token_ids = counting  # type: ignore[method-assign]
    text = "Rivers carry water from the hills down to the sea. " * 300
    docs = [SourceDocument(f"d{i}", text) for i in range(6)]
    store = QdrantStore("parts", path=tmp_path / "edge")
    report = harrier.ingest(docs, store, engine, max_tokens=2_048, quiet=True)
    store.close()
    assert 2 * PART_TOKENS < report.tokens < 65_536
    assert calls == [report.tokens]


def test_a_stop_keeps_every_document_finished_before_it_in_its_group(
    tmp_path, qwen_path, monkeypatch
):
    """The writer gets each part's finished documents, not the group at its end: a stop within a
    group of 64 web pages (40 s on a CPU) lost all of them. Here one document fills a part."""
    from harrier_qdrant import QdrantStore

    monkeypatch.setattr(_ingest, "PART_TOKENS", 1)  # a part is one engine batch: 1,000 tokens
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=1_000)
    text = "Rivers carry water from the hills down to the sea. " * 30
    docs = [SourceDocument(f"d{i}", f"{text}{i}") for i in range(6)]
    assert all(600 < n <= 1_000 for n in engine.count_tokens([d.text for d in docs]))
    store = QdrantStore("stop", path=tmp_path / "edge")
    upsert, written = store.upsert, threading.Event()
    upserted: list[str] = []

    def recording(records):  # type: ignore[no-untyped-def]
        upsert(records)
        upserted.extend(r.doc_id for r in records)
        if len(upserted) == 2:
            written.set()

    store.upsert = recording  # type: ignore[method-assign]
    embed, calls = engine.embed_token_ids, []

    def stopping(rows, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        if len(calls) == 3:  # Ctrl-C during the third part, once the first two are written
            assert written.wait(60)
            raise KeyboardInterrupt
        return embed(rows, **kwargs)

    engine.embed_token_ids = stopping  # type: ignore[method-assign]
    with pytest.raises(harrier.RunInterrupted) as stopped:
        harrier.ingest(docs, store, engine, max_tokens=1_000, group_documents=64, quiet=True)
    assert calls == [1, 1, 1]
    assert stopped.value.report.spans_written == 2
    assert sorted(store.iter_doc_ids()) == ["d0", "d1"]

    engine.embed_token_ids = embed  # type: ignore[method-assign]
    report = harrier.ingest(docs, store, engine, max_tokens=1_000, group_documents=64, quiet=True)
    assert (report.unchanged, report.spans_written) == (2, 4)
    assert sorted(store.iter_doc_ids()) == [f"d{i}" for i in range(6)]
    store.close()
