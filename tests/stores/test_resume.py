"""A stop within a long document: the parts of a new one that were embedded are written, and a
re-run embeds only the rest; a document whose other version is stored is never left
half-replaced (a 500-page PDF takes minutes on a CPU, and a stop used to lose all of it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import harrier
from document_files import mixed_text
from harrier.ingestion import _ingest
from harrier.sources import _documents

OPTIONS = {"max_tokens": 64, "quiet": True}


def _records(store: harrier.VectorStore, doc_id: str) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.text, r.span_index, r.span_count, r.doc_hash, r.vector)
        for r in store.fetch_spans(doc_id)
    ]


def _assert_same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert [r[:-1] for r in got] == [r[:-1] for r in want]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a[-1], b[-1], atol=1e-5)


class StopAfter:
    """Ctrl-C at the engine's call ``calls + 1``, once the writer has stored every span the
    first ``calls`` calls embedded. ``written=False``, where nothing may be written: after
    half a second, time enough for a wrong write to show (a correct run never waits longer)."""

    def __init__(
        self,
        store: harrier.VectorStore,
        engine: harrier.Embedder,
        calls: int,
        *,
        written: bool = True,
    ) -> None:
        self.wait = 60.0 if written else 0.5
        self.embedded: list[int] = []
        self.upserted = 0
        self.calls = calls
        self._embed, self._upsert = engine.embed_token_ids, store.upsert
        self._lock = threading.Lock()
        engine.embed_token_ids = self._embedding  # type: ignore[method-assign]
        store.upsert = self._upserting  # type: ignore[method-assign]
        self.engine = engine

    def _upserting(self, records: Any) -> None:
        self._upsert(records)
        with self._lock:
            self.upserted += len(records)

    def _embedding(self, rows: Any, **kwargs: Any) -> Any:
        if len(self.embedded) == self.calls:
            deadline = time.monotonic() + self.wait
            while self.upserted < sum(self.embedded) and time.monotonic() < deadline:
                time.sleep(0.01)
            raise KeyboardInterrupt
        self.embedded.append(len(rows))
        return self._embed(rows, **kwargs)

    def restore(self) -> Callable[..., Any]:
        self.engine.embed_token_ids = self._embed  # type: ignore[method-assign]
        return self._embed


def _counting(engine: harrier.Embedder) -> list[int]:
    embed, rows_embedded = engine.embed_token_ids, []

    def counting(rows: Any, **kwargs: Any) -> Any:
        rows_embedded.append(len(rows))
        return embed(rows, **kwargs)

    engine.embed_token_ids = counting  # type: ignore[method-assign]
    return rows_embedded


def test_a_stop_keeps_the_finished_parts_of_a_new_long_document(
    open_store, qwen_engine, monkeypatch
):
    monkeypatch.setattr(_ingest, "part_tokens", lambda engine: 256)  # a few spans per call
    docs = [
        harrier.SourceDocument("long", mixed_text(12_000)),
        harrier.SourceDocument("b", "short"),
    ]
    whole = open_store("whole")
    harrier.ingest(docs, whole, qwen_engine, **OPTIONS)
    want = _records(whole, "long")
    assert len(want) > 12

    store = open_store("stopped")
    stop = StopAfter(store, qwen_engine, calls=3, written=False)
    with pytest.raises(harrier.RunInterrupted) as stopped:
        harrier.ingest(docs, store, qwen_engine, **OPTIONS)
    stop.restore()
    kept = sum(stop.embedded)
    assert stopped.value.report.spans_written == kept and 0 < kept < len(want)
    _assert_same(_records(store, "long"), want[:kept])  # its first spans, of this version

    rows = _counting(qwen_engine)
    report = harrier.ingest(docs, store, qwen_engine, **OPTIONS)
    assert report.spans_resumed == kept
    assert sum(rows) == report.spans_written == len(want) - kept + 1  # the rest, and "b"
    assert f"{kept} spans kept from a stopped run" in report.summary()
    _assert_same(_records(store, "long"), want)
    again = harrier.ingest(docs, store, qwen_engine, **OPTIONS)
    assert (again.unchanged, again.spans_written, again.spans_resumed) == (2, 0, 0)


def test_a_stop_within_a_changed_long_document_keeps_its_stored_version_whole(
    open_store, qwen_engine, monkeypatch
):
    monkeypatch.setattr(_ingest, "part_tokens", lambda engine: 256)
    old, new = mixed_text(12_000, seed=1), mixed_text(12_000, seed=2)
    reference = open_store("reference")
    harrier.ingest([harrier.SourceDocument("long", new)], reference, qwen_engine, **OPTIONS)
    want = _records(reference, "long")

    store = open_store("changed")
    harrier.ingest([harrier.SourceDocument("long", old)], store, qwen_engine, **OPTIONS)
    before = _records(store, "long")
    stop = StopAfter(store, qwen_engine, calls=3, written=False)
    with pytest.raises(harrier.RunInterrupted) as stopped:
        harrier.ingest([harrier.SourceDocument("long", new)], store, qwen_engine, **OPTIONS)
    stop.restore()
    assert stopped.value.report.spans_written == 0
    _assert_same(_records(store, "long"), before)  # not half-replaced

    report = harrier.ingest([harrier.SourceDocument("long", new)], store, qwen_engine, **OPTIONS)
    assert report.spans_resumed == 0 and report.spans_written == len(want)
    _assert_same(_records(store, "long"), want)


def test_a_stopped_large_file_resumes_after_its_written_pieces(
    open_store, qwen_engine, monkeypatch, tmp_path
):
    monkeypatch.setattr(_documents, "_PIECE_CHARS", 6_000)
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "big.txt").write_text(mixed_text(40_000, seed=3), encoding="utf-8")
    options = {"max_tokens": 512, "large_file_bytes": 20_000, "quiet": True}
    reference = open_store("reference")
    harrier.ingest(folder, reference, qwen_engine, **options)
    want = _records(reference, "big.txt")

    store = open_store("large")
    stop = StopAfter(store, qwen_engine, calls=2)  # a piece per call
    with pytest.raises(harrier.RunInterrupted):
        harrier.ingest(folder, store, qwen_engine, **options)
    stop.restore()
    kept = sum(stop.embedded)
    assert 0 < kept < len(want)
    _assert_same(_records(store, "big.txt"), want[:kept])

    rows = _counting(qwen_engine)
    report = harrier.ingest(folder, store, qwen_engine, **options)
    assert report.spans_resumed == kept and sum(rows) == len(want) - kept
    _assert_same(_records(store, "big.txt"), want)
