"""The ingestion pipeline in one process: the stages of ``_stages`` on three threads."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harrier import _stages as stages
from harrier._documents import LARGE_FILE_BYTES, LargeFile, iter_source, iter_text_pieces
from harrier._engine import EmbeddingEngine
from harrier._folders import FolderFilter
from harrier._records import document_hash
from harrier._report import IngestReport
from harrier._spans import Span, Splitter
from harrier._stages import Document, DocumentWork
from harrier._store import VectorStore
from harrier._threads import BackgroundConsumer, in_background
from harrier.convert import CONVERT_TIMEOUT, FileConverter

logger = logging.getLogger("harrier")


def ingest(
    source: str | Path | Iterable[Any],
    store: VectorStore,
    embedder: EmbeddingEngine,
    *,
    max_tokens: int | None = None,
    overlap_tokens: int = 0,
    prune: bool = False,
    show_progress: bool = False,
    group_documents: int = 64,
    group_chars: int = 4_000_000,
    large_file_bytes: int = LARGE_FILE_BYTES,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    follow_symlinks: bool = False,
    convert_timeout: float = CONVERT_TIMEOUT,
    skip_log: str | Path | None = None,
) -> IngestReport:
    """Split, embed and write every document of ``source`` into ``store``.

    Unchanged documents (same text, metadata and settings) embed and write nothing; a changed
    document's new spans are written before its stale spans are deleted; with ``prune`` the
    documents missing from ``source`` are deleted at the end. Memory stays bounded: documents
    are handled in groups of at most ``group_documents`` documents or ``group_chars`` characters,
    and files over ``large_file_bytes`` are streamed in pieces.

    A folder is walked honouring ``.gitignore`` files; ``include`` / ``exclude`` are
    ``.gitignore``-style patterns, symbolic links are followed with ``follow_symlinks``. PDF,
    Office, HTML and EPUB files are converted (in a worker process, at most
    ``convert_timeout`` seconds each) only when their bytes changed. Skips are counted by
    reason in the report; ``skip_log`` names a file that gets every one of them.
    """
    started = time.perf_counter()
    with (
        open(skip_log, "w", encoding="utf-8") if skip_log is not None else contextlib.nullcontext()
    ) as log:
        report = IngestReport(skip_log=log)
        job = Pipeline(
            store,
            embedder,
            embedder.max_tokens if max_tokens is None else max_tokens,
            overlap_tokens,
            report,
            FileConverter(convert_timeout),
        )
        try:
            job.run(
                iter_source(
                    source,
                    large_file_bytes=large_file_bytes,
                    folder=FolderFilter(include, exclude, follow_symlinks),
                ),
                prune,
                show_progress,
                group_documents,
                group_chars,
            )
        finally:
            if job.converter is not None:
                job.converter.close()
    report.skip_log = None
    report.seconds = time.perf_counter() - started
    logger.info("ingestion done: %s", report.summary())
    return report


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
    progress: Any = None
    store_lock: threading.Lock = field(default_factory=threading.Lock)
    splitter: Splitter = field(init=False)

    def __post_init__(self) -> None:
        self.splitter = Splitter(
            self.embedder, max_tokens=self.max_tokens, overlap_tokens=self.overlap
        )

    @property
    def settings(self) -> str:
        return stages.ingest_settings(self.embedder.identity, self.max_tokens, self.overlap)

    def run(
        self,
        items: Iterable[Any],
        prune: bool,
        show_progress: bool,
        group_documents: int,
        group_chars: int,
    ) -> None:
        """The three stages overlapped: read+split, embed (this thread), write."""
        self.store.ensure_collection(self.embedder.identity, self.embedder.dimension)
        seen: set[str] = set()
        self.store.begin_bulk_load()
        try:
            with tqdm(desc="Ingesting", unit="doc", disable=not show_progress) as bar:
                self.progress = bar
                groups = stages.document_groups(
                    items, seen, self.report, group_documents, group_chars
                )
                writer = BackgroundConsumer(self.write, maxsize=2, name="harrier-writer")
                try:
                    for prepared in in_background(
                        self.prepare_all(groups), maxsize=2, name="harrier-reader"
                    ):
                        writer.put(self.embed(prepared))
                finally:
                    writer.close()
        finally:
            self.store.end_bulk_load()
        if prune:
            self.report.documents_pruned = stages.prune(self.store, seen)

    def prepare_all(
        self, groups: Iterable[list[Document] | LargeFile]
    ) -> Iterator[list[DocumentWork]]:
        """Stage 1 over every group: one list per group, or per piece of a large file."""
        for group in groups:
            parts = (
                self.prepare_large(group) if isinstance(group, LargeFile) else [self.prepare(group)]
            )
            for works in parts:
                stages.record_skips(self.report, stages.skipped(works))
                yield works

    def prepare(self, group: list[Document]) -> list[DocumentWork]:
        with self.store_lock:
            stored = self.store.stored_documents([d.id for d in group])
        return stages.prepare(group, stored, self.settings, self.splitter, self.converter)

    def prepare_large(self, file: LargeFile) -> Iterator[list[DocumentWork]]:
        """A large file in pieces: a first pass hashes it and counts its spans, a second splits
        it again piece by piece; stale spans are deleted after the last piece."""
        try:
            doc_hash = document_hash(
                (p for _, p in iter_text_pieces(file.path)), file.metadata, self.settings
            )
            count = sum(len(self.split(piece)) for _, piece in iter_text_pieces(file.path))
        except (OSError, UnicodeDecodeError) as exc:
            reason = (
                "not valid UTF-8"
                if isinstance(exc, UnicodeDecodeError)
                else f"cannot read: {exc.strerror or exc}"
            )
            yield [DocumentWork(file.id, file.metadata, "", skip=reason)]
            return
        with self.store_lock:
            stored = self.store.stored_documents([file.id]).get(file.id)
        if stored is not None and stored.is_complete(doc_hash):
            yield [DocumentWork(file.id, file.metadata, doc_hash, stored)]
            return
        index = 0
        for (offset, piece), last in _with_last(iter_text_pieces(file.path)):
            spans = [
                replace(s, start=s.start + offset, end=s.end + offset, index=s.index + index)
                for s in self.split(piece)
            ]
            index += len(spans)
            yield [
                DocumentWork(
                    file.id,
                    file.metadata,
                    doc_hash,
                    stored if last else None,
                    spans,
                    span_count=count,
                    last=last,
                )
            ]

    def split(self, text: str) -> list[Span]:
        return self.splitter.split(text)

    def embed(self, works: list[DocumentWork]) -> list[DocumentWork]:
        """Stage 2 (this thread)."""
        stages.embed(works, self.embedder)
        return works

    def write(self, works: list[DocumentWork]) -> None:
        """Stage 3: write the new spans, then delete the stale ones of each document."""
        with self.store_lock:
            stages.write(works, self.store, self.embedder.model_name, self.report)
        if self.progress is not None:
            self.progress.update(sum(w.last for w in works))
            self.progress.set_postfix(spans=self.report.spans_written, tokens=self.report.tokens)


def _with_last(items: Iterable[Any]) -> Iterator[tuple[Any, bool]]:
    """Each item with a flag that is True for the last one."""
    iterator = iter(items)
    try:
        previous = next(iterator)
    except StopIteration:
        return
    for item in iterator:
        yield previous, False
        previous = item
    yield previous, True
