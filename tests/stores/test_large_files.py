"""Files too large for memory are streamed in pieces, with the same guarantees."""

from __future__ import annotations

import itertools
import logging
import re
import resource
import threading

import numpy as np
import pytest

import harrier
from document_files import mixed_text
from harrier.sources import _documents
from harrier.sources._documents import iter_text_pieces


def test_pieces_tile_the_file(tmp_path):
    path = tmp_path / "one-line.txt"
    line = ("word " * 2_000_000) + "end"  # a single line of 10 million characters
    path.write_text(line, encoding="utf-8")
    pieces = list(iter_text_pieces(path, piece_chars=1_000_000))
    assert len(pieces) >= 10
    assert "".join(p for _, p in pieces) == line
    for (offset, piece), (next_offset, _) in itertools.pairwise(pieces):
        assert next_offset == offset + len(piece) and piece.endswith(" ")


def test_invalid_utf8_in_a_large_file_is_skipped(open_store, qwen_engine, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "big.txt").write_bytes(b"fine text " * 5000 + b"\xff\xfe broken")
    report = harrier.ingest(folder, open_store(), qwen_engine, large_file_bytes=10_000)
    assert (report.documents, report.skipped) == (0, 1)
    assert "UTF-8" in report.skip_reasons[0]


def test_large_file_streams_tiles_and_reruns(open_store, qwen_engine, tmp_path, monkeypatch):
    monkeypatch.setattr(_documents, "_PIECE_CHARS", 20_000)
    folder = tmp_path / "src"
    folder.mkdir()
    text = mixed_text(90_000)
    (folder / "big.txt").write_text(text, encoding="utf-8")
    (folder / "small.txt").write_text("a small file", encoding="utf-8")
    store = open_store()
    report = harrier.ingest(folder, store, qwen_engine, max_tokens=512, large_file_bytes=50_000)
    assert (report.documents, report.skipped) == (2, 0)
    records = store.fetch_spans("big.txt")
    assert "".join(r.text for r in records) == text
    assert [r.span_index for r in records] == list(range(len(records)))
    assert {r.span_count for r in records} == {len(records)}
    assert all(text[r.start : r.end] == r.text and r.token_count <= 512 for r in records)
    assert (
        harrier.ingest(
            folder, store, qwen_engine, max_tokens=512, large_file_bytes=50_000
        ).unchanged
        == 2
    )

    (folder / "big.txt").write_text(text[:60_000], encoding="utf-8")
    shrunk = harrier.ingest(folder, store, qwen_engine, max_tokens=512, large_file_bytes=50_000)
    after = store.fetch_spans("big.txt")
    assert "".join(r.text for r in after) == text[:60_000]
    assert shrunk.spans_deleted == len(records) - len(after) > 0


@pytest.mark.slow
def test_200_megabyte_file_keeps_memory_bounded(open_store, qwen_engine, tmp_path):
    """Streams a 200 MB file end to end; resident memory grows far less than the file."""
    path = tmp_path / "huge.txt"
    block = mixed_text(1_000_000, seed=1)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(200):
            out.write(block)
    store = open_store()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = harrier.ingest(path, store, qwen_engine, max_tokens=8192)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert report.documents == 1 and report.spans_written == store.count()
    assert peak - before < 150 * 2**20 * 4  # well under the ~800 MB a whole read would need


@pytest.mark.parametrize("open_store", ["qdrant"], indirect=True)
def test_a_long_record_is_embedded_in_bounded_calls_with_progress_between(
    open_store, qwen_engine, monkeypatch, caplog
):
    """One record of many spans: embedded in calls of at most ``part_tokens`` tokens, a progress
    line showing each call's spans and tokens before the next call starts, stored as it was
    when the record was embedded in one call."""
    from harrier.ingestion import _ingest

    docs = [
        harrier.SourceDocument("long", mixed_text(30_000)),
        harrier.SourceDocument("b", "short"),
    ]
    options = {"max_tokens": 64, "show_progress": False, "progress_interval": 0.02}

    def stored(store):
        return {
            r.id: (r.text, r.start, r.end, r.span_index, r.span_count, r.doc_hash, r.vector)
            for page in store.iter_records(512)
            for r in page
        }

    store = open_store("whole")
    harrier.ingest(docs, store, qwen_engine, **options)  # the long record in one call
    one_call = stored(store)

    monkeypatch.setattr(_ingest, "part_tokens", lambda engine: 256)
    caplog.set_level(logging.INFO, logger="harrier.progress")
    lines: list[str] = []
    logged = threading.Condition()

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with logged:
                lines.append(record.getMessage())
                logged.notify_all()

    calls: list[tuple[int, int]] = []  # (spans, tokens) of each engine call
    embed = qwen_engine.embed_token_ids

    def recorded(ids, *args, **kwargs):
        if calls:  # a line with the spans and tokens embedded so far comes before this call
            spans, tokens = sum(c[0] for c in calls), sum(c[1] for c in calls)
            shown = re.compile(rf"(?<![\d,]){spans:,} spans, {tokens:,} tokens, .*ETA")
            with logged:
                assert logged.wait_for(lambda: any(shown.search(x) for x in lines), 60), lines
        calls.append((len(ids), sum(len(row) for row in ids)))
        return embed(ids, *args, **kwargs)

    monkeypatch.setattr(qwen_engine, "embed_token_ids", recorded)
    handler = Lines()
    logging.getLogger("harrier.progress").addHandler(handler)
    try:
        store = open_store("parts")
        report = harrier.ingest(docs, store, qwen_engine, **options)
    finally:
        logging.getLogger("harrier.progress").removeHandler(handler)
    assert report.documents == 2 and report.spans_written == len(one_call)
    assert len(calls) >= 4 and sum(c[0] for c in calls) == len(one_call)
    assert all(tokens <= 256 for _, tokens in calls)
    in_parts = stored(store)
    assert in_parts.keys() == one_call.keys()
    for span_id, record in one_call.items():
        assert in_parts[span_id][:-1] == record[:-1]
        np.testing.assert_allclose(in_parts[span_id][-1], record[-1], atol=1e-5)
