"""``IngestRun``: what every executor does around the stages, in one place.

Both :func:`harrier.ingest` (threads) and :func:`harrier.ingestion.ray.ingest_on_ray` (Ray) open
a run, take its document groups, and close it::

    with IngestRun(source, options) as run:     # skip log, report, converter, progress
        run.plan(engine, store, max_tokens)     # one line: what will happen, on what
        for group in run.groups(): ...          # bounded groups of first-seen documents
        run.prune(store)                        # with options.prune
    run.report

A first pass over the source (file count and bytes, no reading; a JSON Lines file's lines
and their bytes) starts at once in a thread, so the progress has a total, and an estimate of
the time left, early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harrier.ingestion import _stages as stages
from harrier.ingestion._options import IngestOptions
from harrier.ingestion._progress import Progress, duration, size, use_bar
from harrier.ingestion._report import IngestReport
from harrier.ingestion._stages import Document, DocumentWork, SpanRange
from harrier.sources._documents import LargeFile, Skipped, iter_source, jsonl_line_bytes
from harrier.sources._folders import FolderFilter, walk_folder
from harrier.sources.convert import FileConverter
from harrier.stores.base import VectorStore

logger = logging.getLogger("harrier")

LONG_RUN_SECONDS = 600.0
"""An estimate above this gets a line saying what would shorten the run."""
_PLAN_WAIT = 1.0  # seconds the plan waits for the first pass to count the source
_HINT_AFTER = 5.0  # seconds of measured work before the estimate is trusted for the hint
_JSONL = frozenset({".jsonl", ".ndjson"})


@dataclass
class SourceCount:
    """The first pass: how many documents and bytes a source holds (``sizes``: bytes per
    document id, for a folder or a file; a JSON Lines file counts the bytes of its non-blank
    lines, whose sizes by id its reader fills in; a sized collection counts documents only)."""

    documents: int = 0
    bytes: int | None = None
    sizes: dict[str, int] | None = None
    done: threading.Event = field(default_factory=threading.Event)


def count_source(source: Any, folder: FolderFilter, into: SourceCount) -> None:
    """Fill ``into`` for ``source`` (stat calls, or lines of a JSON Lines file); never raises
    (the run itself reports what cannot be read)."""
    try:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                sizes: dict[str, int] = {}
                for file, reason in walk_folder(path, folder):
                    sizes[file.relative_to(path).as_posix()] = 0 if reason else _size(file)
                into.sizes, into.documents = sizes, len(sizes)
                into.bytes = sum(sizes.values())
            elif path.suffix in _JSONL:
                into.bytes = 0
                for length in jsonl_line_bytes(path):
                    into.documents += 1
                    into.bytes += length
            elif path.is_file():
                into.sizes = {path.name: path.stat().st_size}
                into.documents, into.bytes = 1, path.stat().st_size
        elif isinstance(source, Sized):
            into.documents = len(source)
    except OSError:
        pass
    finally:
        into.done.set()


def _size(file: Path) -> int:
    """A file's bytes; 0 for one that cannot be read (still a document: the run skips it)."""
    try:
        return file.stat().st_size
    except OSError:
        return 0


class IngestRun:
    """One ingestion run of ``source`` with ``options``: its report and skip log, the file
    converter (``convert``: this process converts), progress and pruning. Use it as a context
    manager; ``report`` holds the counts and the seconds once it is closed."""

    def __init__(self, source: Any, options: IngestOptions, *, convert: bool = True) -> None:
        self.source = source
        self.options = options
        self.started = time.perf_counter()
        self.report = IngestReport()
        self.seen: set[str] = set()
        self.kept: set[str] = set()  # ids of skipped documents: still in the source
        self.unidentified = 0  # skipped records whose id could not be read
        self._first_unidentified: Skipped | None = None
        self.spans = 0
        self.tokens = 0
        self.token_clock: tuple[float, int] | None = None
        """``(time, tokens)`` at the first spans embedded: tokens/s is measured from there."""
        self.finished_documents = 0
        self._credited: dict[str, float] = {}  # progress units counted of unfinished documents
        self._hinted = False
        self._closed = False
        self._hint = ""
        self.folder = FolderFilter(options.include, options.exclude, options.follow_symlinks)
        self.count = SourceCount()
        self.by_bytes = by_bytes = isinstance(source, (str, Path))
        if by_bytes and Path(source).suffix in _JSONL:
            self.count.sizes = {}  # a record's line bytes, by id, filled in as it is read
        self.progress = Progress(
            "ingest",
            unit="B" if by_bytes else "doc",
            describe=self.status,
            bar=use_bar(options.show_progress),
            quiet=options.quiet,
            interval=options.progress_interval,
        )
        threading.Thread(
            target=self._count, args=(by_bytes,), name="harrier-count", daemon=True
        ).start()
        self._skip_log = (
            open(options.skip_log, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            if options.skip_log is not None
            else None
        )
        self.report.skip_log = self._skip_log
        self.converter = FileConverter(options.convert_timeout) if convert else None

    def _count(self, by_bytes: bool) -> None:
        count_source(self.source, self.folder, self.count)
        total = self.count.bytes if by_bytes else self.count.documents
        if total is not None and (self.count.documents or not by_bytes):
            self.progress.set_total(total)

    def plan(self, engine: str, store: VectorStore | str, max_tokens: int, hint: str = "") -> None:
        """Say at once what the run will do: documents and bytes found, the engine (model,
        device, dtype), span length and store; ``hint`` is shown if the run looks long."""
        self._hint = hint
        self.count.done.wait(_PLAN_WAIT)
        if self.count.done.is_set():
            found = f"{self.count.documents:,} documents"
            if self.count.bytes is not None:
                found += f" ({size(self.count.bytes)})"
        else:
            found = "documents still being counted"
        self.progress.note(
            "plan: %s -> %s; %s, spans up to %s tokens", found, store, engine, f"{max_tokens:,}"
        )

    def groups(
        self, *, size: int | None = None, count_on_read: bool = False
    ) -> Iterator[list[Document] | LargeFile]:
        """The source as groups of at most ``size`` (default ``group_documents``) valid,
        first-seen documents or ``group_chars`` characters (skips are reported).
        ``count_on_read``: progress counts a document when it is read (an executor that cannot
        call :meth:`embedded`)."""
        items = iter_source(
            self.source,
            large_file_bytes=self.options.large_file_bytes,
            folder=self.folder,
            line_bytes=self.count.sizes,  # read for a JSON Lines file only
        )
        groups = stages.document_groups(
            items,
            self.seen,
            self.report,
            size or self.options.group_documents,
            self.options.group_chars,
            on_skip=self._skipped,
        )
        if not count_on_read:
            yield from groups
            return
        for group in groups:
            for doc in [group] if isinstance(group, LargeFile) else group:
                self._finish(doc.id, free=False)
            yield group

    def embedded(self, items: Iterable[DocumentWork | SpanRange]) -> None:
        """Count spans that went through embedding (from any thread): whole works, or ranges of
        a work's spans. A range of a long document moves the progress by its share of the
        document's spans, so tokens/s and the time left follow the work inside it too."""
        for item in items:
            span_range = item if isinstance(item, SpanRange) else SpanRange.whole(item)
            work, spans = span_range.work, span_range.spans
            self.spans += len(spans)
            self.tokens += sum(s.token_count for s in spans)
            if self.token_clock is None and self.tokens:
                self.token_clock = (time.monotonic(), self.tokens)
            if span_range.start == 0 and work.resumed and work.span_count:
                # what a stopped run wrote needs no work: it leaves the total, as unchanged
                # documents do, so the rate and the estimate count only the work done here
                free = self._units(work.id) * work.resumed / work.span_count
                self._credited[work.id] = self._credited.get(work.id, 0.0) + free
                self.progress.discount(free)
            if span_range.completes and work.last:
                self._finish(work.id, free=work.spans is None)
            elif spans and work.span_count:
                share = self._units(work.id) * len(spans) / work.span_count
                self._credited[work.id] = self._credited.get(work.id, 0.0) + share
                self.progress.advance(share)
        self._maybe_hint()

    def _skipped(self, item: Skipped) -> None:
        """A skipped item: handled and free for the progress; pruning keeps its document."""
        self._finish(item.id, free=True)
        if item.document is not None:
            self.kept.add(item.document)
            return
        self.unidentified += 1
        self._first_unidentified = self._first_unidentified or item

    def _units(self, doc_id: str) -> float:
        """What the progress counts for a document: its bytes, or 1 (a document)."""
        if not self.by_bytes:
            return 1
        return self.count.sizes.get(doc_id, 0) if self.count.sizes is not None else 0

    def _finish(self, doc_id: str, *, free: bool) -> None:
        self.finished_documents += 1
        units = self._units(doc_id) - self._credited.pop(doc_id, 0.0)
        if self.count.sizes is not None:
            self.count.sizes.pop(doc_id, None)
        if free:
            self.progress.discount(units)
        else:
            self.progress.advance(units)

    def _maybe_hint(self) -> None:
        if self._hinted or not self._hint or self.progress.measured() < _HINT_AFTER:
            return
        eta = self.progress.eta()
        if eta is not None and eta > LONG_RUN_SECONDS:
            self._hinted = True
            self.progress.note(
                "this run may take %s more; to shorten it: %s",
                duration(eta),
                self._hint,
                level=logging.WARNING,
            )

    def status(self) -> str:
        """The counts a progress line shows."""
        # The first pass may miss what appeared since (a store made inside the folder).
        found = max(self.count.documents, self.finished_documents)
        total = f"/{found:,}" if self.count.done.is_set() else ""
        parts = [
            f"{self.finished_documents:,}{total} documents",
            f"{self.spans:,} spans",
            f"{self.tokens:,} tokens",
            f"{self.token_rate():,.0f} tokens/s",
        ]
        if self.progress.total is not None and self.progress.logs and self.by_bytes:
            parts.insert(1, f"{size(self.progress.done)} of {size(self.progress.total)}")
        return ", ".join(parts)

    def token_rate(self) -> float:
        """Tokens embedded per second since the first spans were: the model's loading and
        warm-up, and the first conversions, are paid once and not counted (the ETA's rule).
        Until more spans follow the first, and once the run is closed (its last line, like its
        report), the whole run's average."""
        clock, tokens = self.token_clock, self.tokens
        if clock is not None and tokens > clock[1] and not self._closed:
            return (tokens - clock[1]) / max(time.monotonic() - clock[0], 1e-9)
        return tokens / max(self.progress.elapsed(), 1e-9)

    def prune(self, store: VectorStore) -> None:
        """With ``options.prune``: delete the documents of ``store`` that are no longer in the
        source. A document skipped this run (unreadable, invalid) is still there and keeps its
        stored spans; a record whose id could not be read might be any stored document, so
        then nothing is pruned (a warning says which records to fix)."""
        if not self.options.prune:
            return
        first = self._first_unidentified
        if first is not None:
            self.report.prune_skipped = f"{self.unidentified} records without a known id"
            logger.warning(
                "prune skipped: %d record(s) of the source could not be read far enough to know "
                "their ids (e.g. %s: %s), and pruning would delete their stored versions; fix "
                "them and run again",
                self.unidentified,
                first.id,
                first.reason,
            )
            return
        self.report.documents_pruned = stages.prune(store, self.seen | self.kept)

    def close(self, *, interrupted: bool = False) -> IngestReport:
        """Stop the progress, close the converter (``interrupted``: kill it, whatever it is
        converting) and the skip log; the report, timed. Closing twice does nothing."""
        if self._closed:
            return self.report
        self._closed = True
        self.progress.close("stopped" if interrupted else "done")
        if self.converter is not None:
            self.converter.close(kill=interrupted)
        if self._skip_log is not None:
            self._skip_log.close()
        self.report.skip_log = None
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    def __enter__(self) -> IngestRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(interrupted=kind is not None and issubclass(kind, KeyboardInterrupt))
