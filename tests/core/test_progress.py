"""Progress counts and estimates, the first pass over a source, and the stage threads' stop."""

from __future__ import annotations

import _thread
import itertools
import logging
import signal
import threading
import time

import pytest

from harrier.ingestion._progress import Progress, duration, size
from harrier.ingestion._run import SourceCount, count_source
from harrier.ingestion._threads import BackgroundConsumer, Worker
from harrier.sources._folders import FolderFilter


def test_durations_and_sizes_read_as_a_person_writes_them():
    assert [duration(s) for s in (0.4, 12, 65, 3725)] == ["0 s", "12 s", "1 min 05 s", "1 h 02 min"]
    assert [size(n) for n in (999, 2_900_000, 4.2e9)] == ["999 B", "2.9 MB", "4.2 GB"]


def test_estimate_follows_the_work_left_and_free_work_leaves_the_total():
    progress = Progress("test", unit="B", describe=lambda: "x", quiet=True)
    assert progress.eta() is None  # no total yet
    progress.set_total(1000)
    assert progress.eta() is None  # nothing done yet
    progress.started -= 100  # a start-up of 100 s (model warm-up, first conversions)
    progress.advance(100)
    assert progress.eta() == pytest.approx(900, rel=0.01)  # one point: the whole run's rate
    assert progress.rate_start is not None
    progress.rate_start = (progress.rate_start[0] - 10, 100)  # the first work, 10 s ago
    progress.advance(250)
    assert progress.eta() == pytest.approx(26, rel=0.01)  # 650 left at 25/s; start-up not counted
    progress.discount(500)  # unchanged documents: no work
    assert progress.total == 500
    assert progress.eta() == pytest.approx(6, rel=0.02)
    assert "ETA 6 s" in progress.line() and "elapsed 1 min 40 s" in progress.line()


def test_log_lines_come_every_interval(caplog):
    caplog.set_level(logging.INFO, logger="harrier.progress")
    with Progress("test", unit="doc", describe=lambda: "3 documents", interval=0.05) as progress:
        progress.set_total(10)
        progress.advance(3)
        deadline = time.monotonic() + 10
        while len(caplog.records) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 3
    assert lines[0].startswith("test: 3 documents, elapsed ") and "ETA" in lines[0]


def test_quiet_logs_nothing(caplog):
    caplog.set_level(logging.INFO, logger="harrier.progress")
    with Progress("test", unit="doc", describe=lambda: "", interval=0.01, quiet=True) as p:
        p.note("plan: %s", "x")
        time.sleep(0.05)
    assert caplog.records == []


def test_first_pass_counts_what_the_walk_reads(tmp_path):
    (tmp_path / "a.txt").write_text("12345")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("123")
    (tmp_path / "skip.log").write_text("x" * 100)
    (tmp_path / ".hidden").write_text("x")
    count = SourceCount()
    count_source(tmp_path, FolderFilter(exclude=("*.log",)), count)
    assert count.done.is_set()
    assert (count.documents, count.bytes) == (2, 8)
    assert count.sizes == {"a.txt": 5, "sub/b.md": 3}
    lines = tmp_path / "docs.jsonl"
    lines.write_text('{"text": "a"}\n\n{"text": "b"}\n')
    count = SourceCount()
    count_source(lines, FolderFilter(), count)
    assert (count.documents, count.bytes) == (2, 28)  # the bytes of its non-blank lines
    count = SourceCount()
    count_source(tmp_path / "missing", FolderFilter(), count)  # the run reports that one
    assert count.done.is_set() and count.documents == 0


def test_json_lines_progress_counts_each_record_by_the_bytes_of_its_line(tmp_path):
    """One 50 kB record among small ones moves the estimate by its bytes, not as one document
    of six; a line skipped when read leaves the total with its bytes."""
    import json

    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._run import IngestRun
    from harrier.ingestion._stages import DocumentWork

    records = [
        {"id": "small-1", "text": "a short one"},
        {"id": "big", "text": "many words " * 5000},
        {"text": "no id: a content id"},
        {"id": "small-2", "text": "another short one", "metadata": {"lang": "en"}},
    ]
    lines = [json.dumps(r) + "\n" for r in records]
    bad = "{not json}\n"
    path = tmp_path / "docs.jsonl"
    path.write_text(lines[0] + "\n" + lines[1] + bad + "".join(lines[2:]), encoding="utf-8")
    sizes = [len(line.encode()) for line in lines]
    with IngestRun(path, IngestOptions(show_progress=False), convert=False) as run:
        deadline = time.monotonic() + 10
        while run.progress.total is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert run.by_bytes and run.progress.total == sum(sizes) + len(bad)
        docs = [doc for group in run.groups() for doc in group]  # type: ignore[union-attr]
        assert [d.id for d in docs][::3] == ["small-1", "small-2"]
        assert run.progress.total == sum(sizes)  # the bad line, skipped, costs nothing
        done = []
        for doc in docs:
            run.embedded([DocumentWork(doc.id, {}, "h", spans=[])])
            done.append(run.progress.done)
        assert done == list(itertools.accumulate(sizes))
        assert done[1] / run.progress.total > 0.95  # the big one is nearly all of the work
        assert run.status().startswith("5/5 documents, 55.2 kB of 55.2 kB")  # the skip too


def test_documents_refused_after_reading_count_as_handled(tmp_path):
    """A repeated id and metadata JSON cannot hold are refused once read; the progress counts
    them as handled and free, so a finished run says ``N/N`` of its work (was ``3/5``)."""
    from harrier import SourceDocument
    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._run import IngestRun
    from harrier.ingestion._stages import DocumentWork

    source = [
        SourceDocument("a", "first"),
        SourceDocument("a", "the same id again"),
        SourceDocument("nan", "x", {"score": float("nan")}),
        SourceDocument("b", "second"),
        SourceDocument("c", "third"),
    ]
    with IngestRun(source, IngestOptions(show_progress=False), convert=False) as run:
        assert run.count.done.wait(10) and run.progress.total == 5
        docs = [doc for group in run.groups() for doc in group]  # type: ignore[union-attr]
        assert [d.id for d in docs] == ["a", "b", "c"]
        assert (run.report.skipped, run.progress.total, run.progress.done) == (2, 3, 0)
        run.embedded([DocumentWork(d.id, {}, "h", spans=[]) for d in docs])
        assert run.status().startswith("5/5 documents")
        assert run.progress.done == run.progress.total == 3


def test_an_abandoned_consumer_finishes_the_item_in_hand_and_drops_the_rest():
    started, release, handled = threading.Event(), threading.Event(), []

    def handle(item: int) -> None:
        started.set()
        release.wait(5)
        handled.append(item)

    consumer = BackgroundConsumer(handle, maxsize=4, name="test")
    for item in range(3):
        consumer.put(item)
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    assert consumer.abandon(timeout=5)
    assert handled == [0]


def test_a_worker_reraises_and_its_waiter_stays_interruptible():
    worker = Worker(lambda: (_ for _ in ()).throw(ValueError("boom")), name="test")
    with pytest.raises(ValueError, match="boom"):
        worker.wait()
    stuck, caught, raised = threading.Event(), threading.Event(), [0.0]
    worker = Worker(lambda: stuck.wait(30), name="test-stuck")

    def on_sigint(signum: int, frame: object) -> None:  # at most one Ctrl-C a second
        if time.monotonic() - raised[0] > 1.0:
            raised[0] = time.monotonic()
            raise KeyboardInterrupt

    def press_ctrl_c() -> None:  # again until it is caught: one may land in a finaliser
        while not caught.wait(0.2):
            _thread.interrupt_main()

    previous = signal.signal(signal.SIGINT, on_sigint)  # whatever earlier tests left
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    started, interrupted = time.monotonic(), False
    try:
        worker.wait()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        caught.set()
        signal.signal(signal.SIGINT, previous)
        stuck.set()
    assert interrupted and time.monotonic() - started < 5


def test_spans_a_stopped_run_wrote_count_with_the_first_part_of_a_resumed_document(tmp_path):
    """A re-run embeds the 6 missing spans of 10 in two parts: the 4 kept leave the total with
    the first (as unchanged documents do), so the rate counts only the work done here."""
    from harrier._spans import Span
    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._run import IngestRun
    from harrier.ingestion._stages import DocumentWork, SpanRange

    (tmp_path / "a.txt").write_text("x" * 1000)
    spans = [Span("x", i, i + 1, i, 1) for i in range(4, 10)]
    work = DocumentWork("a.txt", {}, "h", spans=spans, span_count=10, resumed=4)
    with IngestRun(tmp_path, IngestOptions(show_progress=False, quiet=True), convert=False) as run:
        deadline = time.monotonic() + 30  # the first pass sets the total in its thread
        while run.progress.total is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert run.progress.total == 1000
        run.embedded([SpanRange(work, 0, 3)])
        assert (run.progress.done, run.progress.total) == (pytest.approx(300), pytest.approx(600))
        run.embedded([SpanRange(work, 3, 6)])
        assert run.progress.done == pytest.approx(600) == run.progress.total
        assert run.finished_documents == 1


def test_tokens_per_second_leave_out_the_start_up(tmp_path):
    """Ten minutes of loading, then 1,000 tokens embedded 10 s after the first 1,000: the line
    says 100 tokens/s, the engine's speed, not the 3 of the run's average (which the last
    line gives, as the report does)."""
    from harrier._spans import Span
    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._run import IngestRun
    from harrier.ingestion._stages import DocumentWork

    (tmp_path / "a.txt").write_text("x")
    spans = [Span("x", 0, 1, 0, 1000)]
    with IngestRun(tmp_path, IngestOptions(show_progress=False, quiet=True), convert=False) as run:
        run.progress.started -= 600
        run.embedded([DocumentWork("a.txt", {}, "h", spans=spans)])
        assert run.token_rate() == pytest.approx(1000 / 600, rel=0.01)  # one part: the average
        assert run.token_clock is not None
        at, first = run.token_clock
        run.token_clock = (at - 10, first)
        run.embedded([DocumentWork("b.txt", {}, "h", spans=spans)])
        assert run.token_rate() == pytest.approx(100, rel=0.01)
        assert ", 2,000 tokens, 100 tokens/s" in run.status() or "99 tokens/s" in run.status()
    assert run.token_rate() == pytest.approx(2000 / 600, rel=0.01)  # the last line: the average


def test_the_plan_and_a_long_estimate_name_what_would_shorten_it(caplog, tmp_path):
    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._run import IngestRun
    from harrier.ingestion._stages import DocumentWork

    caplog.set_level(logging.INFO, logger="harrier.progress")
    for name, size_ in (("a.txt", 1000), ("b.txt", 1000), ("c.txt", 100_000)):
        (tmp_path / name).write_text("x" * size_)
    with IngestRun(tmp_path, IngestOptions(show_progress=False), convert=False) as run:
        run.plan("model m on cpu (float32)", "store S", 8192, hint="a GPU (--device cuda)")
        run.progress.started -= 600  # a start-up of 10 min, paid once: not in the estimate
        run.embedded([DocumentWork("a.txt", {}, "h", spans=[])])  # too early to judge
        assert run.progress.rate_start is not None
        at, first = run.progress.rate_start
        run.progress.rate_start = (at - 60, first)  # then a minute for 1 kB: 100 kB left
        run.embedded([DocumentWork("b.txt", {}, "h", spans=[])])
        run.embedded([DocumentWork("missing", {}, "h", spans=[])])  # hinted once only
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        "plan: 3 documents (102.0 kB) -> store S; model m on cpu (float32), "
        "spans up to 8,192 tokens"
    )
    hints = [line for line in lines if line.startswith("this run may take")]
    assert len(hints) == 1 and hints[0].endswith("to shorten it: a GPU (--device cuda)")
    assert "1 h 39 min" in hints[0] or "1 h 40 min" in hints[0]
    assert lines[-1].startswith("ingest: done, 3/3 documents, 2.0 kB of 102.0 kB, 0 spans")


def test_a_long_document_is_embedded_in_parts_and_a_stop_is_seen_between_them(
    qwen_path, monkeypatch
):
    """The embed stage cuts a document's spans into calls of at most ``PART_TOKENS`` tokens; a
    stop (Ctrl-C) set during one call ends the stage before the next, and the document, not
    complete, never goes to the writer."""
    import harrier
    from harrier.ingestion import _ingest
    from harrier.ingestion._report import IngestReport
    from harrier.ingestion._stages import DocumentWork, span_parts

    # batches below the patched PART_TOKENS, so parts are PART_TOKENS (see part_tokens)
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=64)
    pipeline = _ingest.Pipeline(None, engine, 32, 0, IngestReport())  # type: ignore[arg-type]
    spans = pipeline.splitter.split("Rivers carry water from the hills to the sea. " * 60)
    long, short = (
        DocumentWork(i, {}, "h", spans=s, span_count=len(s))
        for i, s in (("long", spans), ("short", spans[:1]))
    )
    parts = list(span_parts([short, long], 100))
    assert len(parts) >= 4
    cut = [(r.work.id, r.start, r.stop) for part in parts for r in part]
    assert cut[0] == ("short", 0, 1) and cut[1][:2] == ("long", 0) and cut[-1][2] == len(spans)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(cut[1:]))  # in order, no gap
    sizes = [[s.token_count for r in part for s in r.spans] for part in parts]
    assert all(sum(size) <= 100 or len(size) == 1 for size in sizes)
    assert all(sum(a) + b[0] > 100 for a, b in itertools.pairwise(sizes))  # each part is full

    calls: list[int] = []
    embed = engine.embed_token_ids

    def stopped_during(ids, *args, **kwargs):
        calls.append(len(ids))
        pipeline.stop.set()  # Ctrl-C while this call runs
        return embed(ids, *args, **kwargs)

    class Writer:
        def put(self, works: object) -> None:
            written.append(works)

    written: list[object] = []
    monkeypatch.setattr(_ingest, "PART_TOKENS", 100)
    engine.embed_token_ids = stopped_during  # type: ignore[method-assign]
    pipeline.prepare_all = lambda groups: iter([[long]])  # type: ignore[method-assign]
    pipeline._embed_all([], Writer())  # type: ignore[arg-type]
    assert len(calls) == 1 and calls[0] < len(spans) and written == []
