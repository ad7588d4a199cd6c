"""The ingestion pipeline: documents in, spans split, embedded and written idempotently."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harrier._documents import (
    LARGE_FILE_BYTES,
    LargeFile,
    Skipped,
    SourceDocument,
    SourceItem,
    iter_source,
    iter_text_pieces,
)
from harrier._embedder import Embedder
from harrier._folders import FolderFilter
from harrier._records import SpanRecord, canonical_json, document_hash, span_id
from harrier._remote import RemoteEmbedder
from harrier._spans import Span, split_spans
from harrier._store import StoredDocument, VectorStore
from harrier._threads import BackgroundConsumer, in_background
from harrier.convert import (
    CONVERT_TIMEOUT,
    ConvertedFile,
    FileConverter,
    Unconvertible,
    page_range,
)

logger = logging.getLogger("harrier")

SKIP_EXAMPLES = 3
"""How many document ids the report keeps per skip reason (the skip log has them all)."""


@dataclass
class IngestReport:
    """The summary of one ingestion run."""

    documents: int = 0
    unchanged: int = 0
    skipped: int = 0
    spans_written: int = 0
    spans_deleted: int = 0
    documents_pruned: int = 0
    tokens: int = 0
    seconds: float = 0.0
    skips: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Skipped documents by reason: ``{reason: {"count": n, "examples": [ids]}}``."""
    skip_log: Any = field(default=None, repr=False, compare=False)
    """A text stream that gets every skip as a JSON line ``{"id", "reason"}``, if set."""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def skip_reasons(self) -> list[str]:
        """``"id: reason"`` of the examples kept for each reason."""
        return [f"{doc_id}: {reason}" for reason, group in self.skips.items()
                for doc_id in group["examples"]]

    def add_skip(self, item: Skipped) -> None:
        """Count a skipped document under its reason (the text before the first ``": "``)."""
        self.skipped += 1
        group = self.skips.setdefault(item.reason.partition(": ")[0],
                                      {"count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < SKIP_EXAMPLES:
            group["examples"].append(item.id)
        logger.info("skipped %s: %s", item.id, item.reason)
        if self.skip_log is not None:
            self.skip_log.write(json.dumps({"id": item.id, "reason": item.reason},
                                           ensure_ascii=False) + "\n")

    def to_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if k != "skip_log"}
        return {**fields, "tokens_per_second": round(self.tokens_per_second, 1)}

    def summary(self) -> str:
        return (
            f"{self.documents} documents seen, {self.unchanged} unchanged, {self.skipped} "
            f"skipped, {self.spans_written} spans written, {self.spans_deleted} spans deleted, "
            f"{self.documents_pruned} documents pruned, {self.tokens} tokens embedded in "
            f"{self.seconds:.1f} s ({self.tokens_per_second:,.0f} tokens/s)"
        )


def ingest(
    source: str | Path | Iterable[Any],
    store: VectorStore,
    embedder: Embedder | RemoteEmbedder,
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
    with (open(skip_log, "w", encoding="utf-8") if skip_log is not None
          else contextlib.nullcontext()) as log:
        report = IngestReport(skip_log=log)
        _ingest(source, store, embedder, report, max_tokens, overlap_tokens, prune,
                show_progress, group_documents, group_chars, large_file_bytes,
                FolderFilter(include, exclude, follow_symlinks), convert_timeout)
    report.skip_log = None
    report.seconds = time.perf_counter() - started
    logger.info("ingestion done: %s", report.summary())
    return report


def _ingest(
    source: str | Path | Iterable[Any], store: VectorStore, embedder: Embedder,
    report: IngestReport, max_tokens: int | None, overlap_tokens: int, prune: bool,
    show_progress: bool, group_documents: int, group_chars: int, large_file_bytes: int,
    folder: FolderFilter, convert_timeout: float,
) -> None:
    store.ensure_collection(embedder.identity, embedder.dimension)
    limit = max_tokens or embedder.max_tokens
    settings = canonical_json([embedder.identity.fingerprint, limit, overlap_tokens])
    seen: set[str] = set()
    job = _Job(store, embedder, limit, overlap_tokens, settings, report,
               FileConverter(convert_timeout))
    store.begin_bulk_load()
    try:
        with tqdm(desc="Ingesting", unit="doc", disable=not show_progress) as bar:
            job.progress = bar
            items = iter_source(source, large_file_bytes=large_file_bytes, folder=folder)
            groups = _groups(items, seen, report, group_documents, group_chars)
            # Three stages overlap: read+split, embed (this thread), write.
            writer = BackgroundConsumer(job.write, maxsize=2, name="harrier-writer")
            try:
                for prepared in in_background(job.prepare_all(groups), maxsize=2,
                                              name="harrier-reader"):
                    writer.put(job.embed(prepared))
            finally:
                writer.close()
    finally:
        job.converter.close()
        store.end_bulk_load()
    if prune:
        report.documents_pruned = prune_missing(store, seen)


def prune_missing(store: VectorStore, seen: set[str]) -> int:
    """Delete the documents of ``store`` that are not in ``seen``; how many were deleted."""
    gone = [doc_id for doc_id in store.iter_doc_ids() if doc_id not in seen]
    if gone:
        store.delete_documents(gone)
    return len(gone)


Document = SourceDocument | ConvertedFile


def _groups(
    items: Iterator[SourceItem], seen: set[str], report: IngestReport, size: int, chars: int
) -> Iterator[list[Document] | LargeFile]:
    """Bounded groups of valid, first-seen documents (a large file alone); skips are counted.
    A file to convert counts its size in bytes towards ``chars``."""
    group: list[Document] = []
    group_chars = 0
    for item in items:
        if not isinstance(item, Skipped):
            item = _validated(item, seen)
        if isinstance(item, Skipped):
            report.add_skip(item)
            continue
        seen.add(item.id)
        report.documents += 1
        if isinstance(item, LargeFile):
            if group:
                yield group
                group, group_chars = [], 0
            yield item
            continue
        group.append(item)
        group_chars += item.size if isinstance(item, ConvertedFile) else len(item.text)
        if len(group) >= size or group_chars >= chars:
            yield group
            group, group_chars = [], 0
    if group:
        yield group


def _validated(doc: Document | LargeFile, seen: set[str]) -> SourceItem:
    if doc.id in seen:
        return _skip(doc.id, "duplicate document id in this run (the first one was kept)")
    try:
        canonical_json(doc.metadata)
    except (TypeError, ValueError) as exc:
        return _skip(doc.id, f"metadata is not JSON-able: {exc}")
    return doc


def _skip(doc_id: str, reason: str) -> Skipped:
    return Skipped(doc_id, reason)


@dataclass
class _Prepared:
    """One group after reading and splitting: what to embed and what the store held."""

    size: int
    docs: list[SourceDocument]
    hashes: dict[str, str]
    stored: dict[str, StoredDocument]
    splits: list[list[Span]]
    span_counts: list[int]
    records: list[list[SpanRecord]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class _Job:
    store: VectorStore
    embedder: Embedder | RemoteEmbedder
    max_tokens: int
    overlap: int
    settings: str
    report: IngestReport
    converter: FileConverter
    progress: Any = None
    store_lock: threading.Lock = field(default_factory=threading.Lock)

    def prepare_all(self, groups: Iterable[list[Document] | LargeFile]) -> Iterator[_Prepared]:
        """Stage 1 over every group: one prepared item per group, or per piece of a large file."""
        for group in groups:
            if isinstance(group, LargeFile):
                yield from self.prepare_large(group)
            else:
                yield self.prepare(group)

    def prepare(self, docs: Sequence[Document]) -> _Prepared:
        """Find the changed documents of a group, convert and split them."""
        with self.store_lock:
            stored = self.store.stored_documents([d.id for d in docs])
        prepared = split_changed(docs, stored, self.settings, self._split, self.converter)
        for item in prepared.skipped:
            self.report.documents -= 1
            self.report.add_skip(item)
        self.report.unchanged += len(docs) - len(prepared.docs) - len(prepared.skipped)
        return prepared

    def prepare_large(self, file: LargeFile) -> Iterator[_Prepared]:
        """A large file in pieces: a first pass hashes it and counts its spans, a second splits
        it again piece by piece; stale spans are deleted after the last piece."""
        try:
            doc_hash = document_hash((p for _, p in iter_text_pieces(file.path)),
                                     file.metadata, self.settings)
            count = sum(len(self._split(piece)) for _, piece in iter_text_pieces(file.path))
        except (OSError, UnicodeDecodeError) as exc:
            reason = ("not valid UTF-8" if isinstance(exc, UnicodeDecodeError)
                      else f"cannot read: {exc.strerror or exc}")
            self.report.documents -= 1
            self.report.add_skip(Skipped(file.id, reason))
            return
        with self.store_lock:
            stored = self.store.stored_documents([file.id])
        if _complete(stored.get(file.id), doc_hash):
            self.report.unchanged += 1
            return
        doc = SourceDocument(file.id, "", file.metadata)
        index = 0
        pieces = _with_last(iter_text_pieces(file.path))
        for (offset, piece), last in pieces:
            spans = [replace(s, start=s.start + offset, end=s.end + offset, index=s.index + index)
                     for s in self._split(piece)]
            index += len(spans)
            yield _Prepared(1 if last else 0, [doc], {file.id: doc_hash},
                            stored if last else {}, [spans], [count])

    def _split(self, text: str) -> list[Span]:
        return split_spans(text, self.embedder, max_tokens=self.max_tokens,
                           overlap_tokens=self.overlap)

    def embed(self, group: _Prepared) -> _Prepared:
        """Stage 2: embed every span of the group in one call (batched by tokens)."""
        texts = [s.text for spans in group.splits for s in spans]
        vectors = self.embedder.embed_documents(texts)
        self.report.tokens += sum(s.token_count for spans in group.splits for s in spans)
        group.records = span_records(group, vectors, self.embedder.model_name)
        return group

    def write(self, group: _Prepared) -> None:
        """Stage 3: write the new spans, then delete the stale ones of each document."""
        with self.store_lock:
            write_group(self.store, group, self.report)
        if self.progress is not None:
            self.progress.update(group.size)
            self.progress.set_postfix(spans=self.report.spans_written, tokens=self.report.tokens)


def split_changed(
    docs: Sequence[Document], stored: dict[str, StoredDocument], settings: str,
    split: Callable[[str], list[Span]], converter: FileConverter,
) -> _Prepared:
    """Stage 1 given what the store holds of ``docs``: hash them, keep and split the changed.
    A file to convert is hashed from its bytes and converted only when it changed."""
    hashes: dict[str, str] = {}
    skipped: list[Skipped] = []
    changed: list[SourceDocument] = []
    for doc in docs:
        try:
            text = doc.hash_input() if isinstance(doc, ConvertedFile) else doc.text
        except OSError as exc:
            skipped.append(Skipped(doc.id, f"cannot read: {exc.strerror or exc}"))
            continue
        hashes[doc.id] = document_hash(text, doc.metadata, settings)
        if _complete(stored.get(doc.id), hashes[doc.id]):
            continue
        if isinstance(doc, ConvertedFile):
            try:
                text, metadata, pages = converter.convert(doc)
            except Unconvertible as exc:
                skipped.append(Skipped(doc.id, str(exc)))
                continue
            doc = SourceDocument(doc.id, text, metadata, pages)
        changed.append(doc)
    splits = [split(d.text) for d in changed]
    return _Prepared(len(docs), changed, hashes, stored, splits, [len(s) for s in splits],
                     skipped=skipped)


def span_records(group: _Prepared, vectors: Iterable[Any], model: str) -> list[list[SpanRecord]]:
    """The records of each document of ``group``, given the vectors of its spans in order."""
    flat = iter(vectors)
    return [
        [
            SpanRecord(
                id=span_id(doc.id, s.index), vector=next(flat), text=s.text, doc_id=doc.id,
                span_index=s.index, span_count=count, start=s.start, end=s.end,
                token_count=s.token_count, doc_hash=group.hashes[doc.id], model=model,
                metadata={**doc.metadata, **page_range(doc.pages, s.start, s.text)}
                if doc.pages else doc.metadata,
            )
            for s in spans
        ]
        for doc, spans, count in zip(group.docs, group.splits, group.span_counts, strict=True)
    ]


def write_group(store: VectorStore, group: _Prepared, report: IngestReport) -> None:
    """Stage 3: write the new spans, then delete the stale ones of each document."""
    for batch in _write_batches(group.records, store.max_batch_count, store.max_batch_bytes):
        store.upsert(batch)
        report.spans_written += len(batch)
    for doc, count in zip(group.docs, group.span_counts, strict=True):
        previous = group.stored.get(doc.id)
        if previous is not None:
            store.delete_stale(doc.id, group.hashes[doc.id])
            report.spans_deleted += previous.stale_after(count)


def _complete(stored: StoredDocument | None, doc_hash: str) -> bool:
    return stored is not None and stored.is_complete(doc_hash)


def _write_batches(
    per_doc: Sequence[Sequence[SpanRecord]], max_count: int, max_bytes: int
) -> Iterator[list[SpanRecord]]:
    """Requests bounded by count and bytes; a document is kept in one request when it fits."""
    batch: list[SpanRecord] = []
    size = 0
    for records in per_doc:
        doc_bytes = sum(r.approx_bytes() for r in records)
        if batch and (len(batch) + len(records) > max_count or size + doc_bytes > max_bytes):
            yield batch
            batch, size = [], 0
        for record in records:
            record_bytes = record.approx_bytes()
            if batch and (len(batch) >= max_count or size + record_bytes > max_bytes):
                yield batch
                batch, size = [], 0
            batch.append(record)
            size += record_bytes
    if batch:
        yield batch


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
