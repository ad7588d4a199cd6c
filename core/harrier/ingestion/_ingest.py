"""The ingestion pipeline in one process: the stages of ``_stages`` on three threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harrier._engine import EmbeddingEngine
from harrier._spans import Splitter
from harrier.ingestion import _stages as stages
from harrier.ingestion._options import CPU_SPAN_TOKENS, IngestOptions
from harrier.ingestion._report import IngestReport
from harrier.ingestion._run import IngestRun
from harrier.ingestion._signals import RunInterrupted, deferred_signals
from harrier.ingestion._stages import Document, DocumentWork, SpanRange
from harrier.ingestion._threads import BackgroundConsumer, Worker, in_background
from harrier.sources._documents import LargeFile, check_source
from harrier.sources.convert import FileConverter
from harrier.stores.base import StoredDocument, VectorStore

logger = logging.getLogger("harrier")

STOP_SECONDS = 1.5
"""How long a stopped run waits for the write in flight (and the store) before it gives up."""
PART_TOKENS = 16_384
"""Most tokens embedded between two progress updates (and stop checks) of the thread pipeline
(one longer span alone; more where the engine's batches hold more, see :func:`part_tokens`): a
document with more is embedded in several calls, so that no record keeps the counts still for
the minutes its spans take on a CPU (two 8k spans, one 32k span)."""


def ingest(
    source: str | Path | Iterable[Any],
    store: VectorStore,
    embedder: EmbeddingEngine,
    options: IngestOptions | None = None,
    **changes: Any,
) -> IngestReport:
    """Split, embed and write every document of ``source`` into ``store``.

    ``options`` (an :class:`~harrier.IngestOptions`), with ``changes`` to its fields as
    keywords (``max_tokens=512, prune=True``; an unknown name is refused), say how.

    Unchanged documents (same text, metadata and settings) embed and write nothing; a changed
    document's new spans are written before its stale spans are deleted; with ``prune`` the
    documents missing from ``source`` are deleted at the end. Memory stays bounded: documents
    are handled in groups (``group_documents`` documents or ``group_chars`` characters), and
    files over ``large_file_bytes`` are streamed in pieces.

    A folder is walked honouring ``.gitignore`` files and the ``include`` / ``exclude``
    patterns. PDF, Office, HTML and EPUB files are converted (in a worker process, at most
    ``convert_timeout`` seconds each) only when their bytes changed. Skips are counted by
    reason in the report; ``skip_log`` names a file that gets every one of them.

    Progress goes to a bar on a terminal, else to the ``harrier.progress`` logger (INFO, at
    least every 10 s, with an estimate of the time left). Ctrl-C or SIGTERM (see
    :func:`harrier.cli.main`) stops the run within about two seconds: the write in flight
    finishes, the rest is abandoned, and :class:`RunInterrupted` carries the report; running
    it again resumes.
    """
    options = IngestOptions.of(options, **changes)
    check_source(source)
    max_tokens = span_tokens(options, embedder)
    with IngestRun(source, options) as run:
        job = Pipeline(
            store,
            embedder,
            max_tokens,
            options.overlap_tokens,
            run.report,
            run.converter,
            on_embedded=run.embedded,
            # A folder may hold the store's own files: known by marks that must exist before
            # the walk meets them, so its collection is made first.
            create_while_reading=not (isinstance(source, str | Path) and Path(source).is_dir()),
        )
        run.plan(
            describe_engine(embedder), store, max_tokens, hint=speed_hint(embedder, max_tokens)
        )
        try:
            job.run(run.groups())
            run.prune(store)
        except KeyboardInterrupt as exc:
            run.close(interrupted=True)
            logger.info("ingestion interrupted: %s", run.report.summary())
            raise RunInterrupted(run.report, exc) from None
    logger.info("ingestion done: %s", run.report.summary())
    return run.report


def span_tokens(options: IngestOptions, embedder: Any) -> int:
    """The span length of a run: ``options.max_tokens``, else the engine's own setting, else
    the model's limit, capped at :data:`CPU_SPAN_TOKENS` for an engine on a CPU here."""
    if options.max_tokens is not None:
        return options.max_tokens
    settings = getattr(embedder, "settings", None)
    if getattr(settings, "max_tokens", None) is not None:
        return int(embedder.max_tokens)
    on_cpu = (
        getattr(embedder, "url", None) is None and str(getattr(embedder, "device", "")) == "cpu"
    )
    return min(embedder.max_tokens, CPU_SPAN_TOKENS) if on_cpu else int(embedder.max_tokens)


def describe_engine(embedder: Any) -> str:
    """``model NAME on cpu (float32)``, ``model NAME via URL`` for a server, or ``model NAME
    (EngineClass)`` for an engine with no ``device``, for the plan."""
    url = getattr(embedder, "url", None)
    if url is not None:
        return f"model {embedder.model_name} via {url}"
    device = getattr(embedder, "device", None)
    if device is None:  # another package's engine: its class says what it is
        return f"model {embedder.model_name} ({type(embedder).__name__})"
    dtype = str(getattr(embedder, "dtype", "")).removeprefix("torch.")
    return f"model {embedder.model_name} on {device}" + (f" ({dtype})" if dtype else "")


def speed_hint(embedder: Any, max_tokens: int) -> str:
    """What would shorten a long run on this engine (a GPU, shorter spans, a server)."""
    local = getattr(embedder, "url", None) is None
    hints = []
    if local and str(getattr(embedder, "device", "")).startswith("cpu"):
        hints.append("a GPU (--device cuda)")
    if max_tokens > 2048:
        hints.append(f"shorter spans (--max-tokens 512; now {max_tokens:,})")
    if local:
        hints.append("a `harrier serve` on a faster machine (--embedder URL)")
    return ", ".join(hints)


@dataclass
class Pipeline:
    """The stages over one store and embedder, in one process (``store_lock`` guards the store
    client, which the reader and writer threads share)."""

    store: VectorStore
    embedder: EmbeddingEngine
    max_tokens: int
    overlap: int
    report: IngestReport
    converter: FileConverter | None = None
    on_embedded: Callable[[list[SpanRange]], None] | None = None
    store_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    splitter: Splitter = field(init=False)
    create_while_reading: bool = True
    """A new collection is created while the first groups are read and embedded."""
    fresh: bool = field(init=False, default=False)
    """The collection did not exist: nothing is stored, and it is created while the first groups
    are read and embedded (:meth:`open_collection`)."""
    opening: Worker | None = field(init=False, default=None)
    loading: bool = field(init=False, default=False)
    """Between ``begin_bulk_load`` and ``end_bulk_load``."""

    def __post_init__(self) -> None:
        self.splitter = Splitter(
            self.embedder, max_tokens=self.max_tokens, overlap_tokens=self.overlap
        )

    @property
    def settings(self) -> str:
        return stages.ingest_settings(self.embedder.identity, self.max_tokens, self.overlap)

    def run(self, groups: Iterable[list[Document] | LargeFile]) -> None:
        """The three stages overlapped, each in a thread: read+split, embed, write. This
        thread only waits, so Ctrl-C and SIGTERM reach it at once (a forward pass can take
        minutes); then the write in flight finishes (at most :data:`STOP_SECONDS`), the rest
        is abandoned, and the interrupt is re-raised. No document is left half-written: a
        document counts as written once all its spans are, and a re-run redoes any other."""
        opening = self.open_collection()
        writer = BackgroundConsumer(self.write, maxsize=2, name="harrier-writer")
        try:
            Worker(lambda: self._embed_all(groups, writer), name="harrier-embed").wait()
            writer.close()
            opening.wait()
        except BaseException:
            self.stop.set()
            with deferred_signals():
                writer.abandon(STOP_SECONDS)
                opening.join(STOP_SECONDS)
                # Kept: an abandoned stage never touches the store again; the caller closes it.
                self.store_lock.acquire(timeout=STOP_SECONDS)
                if self.loading:
                    self.store.end_bulk_load()
            raise
        self.store.end_bulk_load()

    def open_collection(self) -> Worker:
        """Check the collection and begin the bulk load, in a thread. A collection that does
        not exist yet holds nothing, so it is created while the first groups are read and
        embedded (its creation took 30-370 ms on an H200 machine; unless
        :attr:`create_while_reading` is off); the first write waits for it. An existing one is
        checked (model, dimension, BM25) before anything is read."""
        self.fresh = self.store.collection_model() is None

        def open_() -> None:
            with self.store_lock:
                self.store.ensure_collection(self.embedder.identity, self.embedder.dimension)
                self.store.begin_bulk_load()
                self.loading = True

        self.opening = Worker(open_, name="harrier-open")
        if not (self.fresh and self.create_while_reading):
            self.opening.wait()
        return self.opening

    def _embed_all(
        self, groups: Iterable[list[Document] | LargeFile], writer: BackgroundConsumer[Any]
    ) -> None:
        for prepared in in_background(self.prepare_all(groups), maxsize=2, name="harrier-reader"):
            for finished in self.embed(prepared):
                if self.stop.is_set():
                    return
                writer.put(finished)

    def prepare_all(
        self, groups: Iterable[list[Document] | LargeFile]
    ) -> Iterator[list[DocumentWork]]:
        """Stage 1 over every group: one list per group, or per piece of a large file."""
        for group in groups:
            if self.stop.is_set():
                return
            parts = (
                self.prepare_large(group) if isinstance(group, LargeFile) else [self.prepare(group)]
            )
            for works in parts:
                stages.record_skips(self.report, stages.skipped(works))
                yield works

    def prepare(self, group: list[Document]) -> list[DocumentWork]:
        stored = self.stored_documents([d.id for d in group])
        return stages.prepare(group, stored, self.settings, self.splitter, self.converter)

    def prepare_large(self, file: LargeFile) -> Iterator[list[DocumentWork]]:
        """A large file in pieces (:func:`harrier.ingestion._stages.prepare_large`)."""
        return stages.prepare_large(file, self.stored, self.settings, self.splitter)

    def stored(self, doc_id: str) -> StoredDocument | None:
        return self.stored_documents([doc_id]).get(doc_id)

    def stored_documents(self, doc_ids: list[str]) -> dict[str, StoredDocument]:
        """What the store holds of these documents (nothing, in a new collection)."""
        if self.fresh:
            return {}
        with self.store_lock:
            return self.store.stored_documents(doc_ids)

    def embed(self, works: list[DocumentWork]) -> Iterator[list[DocumentWork]]:
        """Stage 2, in calls of at most :func:`part_tokens` tokens (a long document's spans
        over several), so progress moves and a stop is seen between them. After each call, what
        it finished goes on to the writer (:func:`~harrier.ingestion._stages.finished`): a stop
        loses at most the call in flight, not its group (64 web pages took 40 s on a CPU) nor
        the finished parts of a new long document (a book: minutes on a CPU)."""
        for part in stages.span_parts(works, part_tokens(self.embedder)):
            if self.stop.is_set():
                return
            stages.embed_ranges(part, self.embedder)
            if self.on_embedded is not None:
                self.on_embedded(part)
            yield stages.finished(part)

    def write(self, works: list[DocumentWork]) -> None:
        """Stage 3: write the new spans, then delete the stale ones of each document."""
        if self.opening is not None:
            self.opening.wait()
        with self.store_lock:
            stages.write(works, self.store, self.embedder.model_name, self.report)


def part_tokens(embedder: Any) -> int:
    """The tokens of one embedding part: :data:`PART_TOKENS`, or a full batch for each of the
    engine's devices where that is more (65,536 tokens each on a GPU): a smaller part shrinks
    the engine's batches to it (fixed 16,384-token parts came in when ingestion on an H200 fell
    from 0.77x to 0.53x of embedding alone). On a CPU (8,192-token batches) parts are
    unchanged."""
    batch = getattr(embedder, "max_batch_tokens", None)
    devices = len(getattr(embedder, "devices", None) or [None])
    return max(PART_TOKENS, batch * devices) if isinstance(batch, int) else PART_TOKENS
