"""The pipeline's stages, run by :func:`harrier.ingest` (threads) and by the Ray path (actors).

Each document becomes one :class:`DocumentWork` that the stages fill in turn::

    document_groups  bounded groups of valid, first-seen documents (skips counted)
    prepare          hash each document against what the store holds; split the changed ones
                     (all of a group at once: one batched tokenizer call for those that fit)
    embed            embed the spans of a group, from the ids the split computed, in calls of
                     at most ``PART_TOKENS`` tokens (a long document over several, written whole)
    write            upsert the spans in bounded requests, then delete each document's stale ones

A document is a :class:`SourceDocument` (its text is at hand) or a :class:`LazyDocument`: a
document whose text is costly to produce gives a ``digest`` instead, e.g. a SHA-256 of its raw
bytes plus the converter's name and version. The digest stands for the text in the document
hash, and ``load()`` is called, in :func:`prepare`, only when the document changed (its
``SourceError`` skips the document). For Ray, ``load`` must pickle (a module-level function or
a ``functools.partial`` of one). A :class:`~harrier.sources.convert.ConvertedFile` (PDF,
Office...) is one: its digest is its ``hash_input()``, and its load is the
caller's ``FileConverter``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harrier._batching import size_bounded_groups
from harrier._engine import EmbeddingEngine, checked_vectors, embeds_token_ids
from harrier._errors import SourceError
from harrier._identity import ModelIdentity
from harrier._records import SpanRecord, canonical_json, document_hash, span_id
from harrier._spans import Span, Splitter
from harrier.ingestion._report import IngestReport
from harrier.sources._documents import (
    LargeFile,
    LazyDocument,
    Skipped,
    SourceDocument,
    SourceItem,
    iter_text_pieces,
)
from harrier.sources._validation import storage_problem
from harrier.sources.convert import ConvertedFile, FileConverter, Unconvertible, page_range
from harrier.stores.base import StoredDocument, VectorStore

Document = SourceDocument | LazyDocument | ConvertedFile


def ingest_settings(model: ModelIdentity, max_tokens: int, overlap_tokens: int) -> str:
    """What besides a document decides its spans and vectors: part of every document hash.
    The model counts by its weights' fingerprint, whatever path or name loaded it."""
    return canonical_json([model.fingerprint or model.name, max_tokens, overlap_tokens])


def hash_of(doc: SourceDocument | LazyDocument, settings: str) -> str:
    """The document hash of ``doc``: over its text, or over its digest when it gives one."""
    if isinstance(doc, LazyDocument):  # its own domain: a digest never equals a text's hash
        return document_hash(doc.digest, doc.metadata, canonical_json([settings, "digest"]))
    return document_hash(doc.text, doc.metadata, settings)


@dataclass
class DocumentWork:
    """One document (or one piece of a large one) on its way through the stages.

    ``spans`` is None when the document is unchanged (or skipped: ``skip`` says why), else
    the spans to embed and write: all of them, less the ``resumed`` ones a stopped run already
    wrote of this version. ``span_count`` counts the spans of the whole document, and ``last``
    is False on every piece of a large file but its last, whose write deletes the stale spans.
    """

    id: str
    metadata: dict[str, Any]
    hash: str
    stored: StoredDocument | None = None
    spans: list[Span] | None = None
    vectors: np.ndarray | None = None
    span_count: int = 0
    last: bool = True
    skip: str | None = None
    pages: tuple[int, ...] = ()
    resumed: int = 0

    def set_spans(self, spans: list[Span], span_count: int | None = None) -> None:
        """The spans to embed: ``spans`` (of ``span_count``, default ``len(spans)``, in the
        whole document) less those a stopped run already wrote of this version."""
        self.span_count = len(spans) if span_count is None else span_count
        done = self.stored.resumable(self.hash, self.span_count) if self.stored else None
        self.spans = [s for s in spans if s.index not in done] if done else spans
        self.resumed = len(spans) - len(self.spans)

    @property
    def writes_in_parts(self) -> bool:
        """Whether its spans may be written as they are embedded (so a stop keeps them, and a
        re-run resumes): no other version of the document is stored, which that would leave
        half-replaced."""
        return self.stored is None or self.stored.resumable(self.hash, self.span_count) is not None

    def records(self, model: str) -> list[SpanRecord]:
        """The span records of this document, once embedded."""
        if not self.spans:
            return []
        if self.vectors is None or len(self.vectors) != len(self.spans):
            raise ValueError(f"document {self.id!r} is not embedded")
        return [
            SpanRecord(
                id=span_id(self.id, s.index),
                vector=vector,
                text=s.text,
                doc_id=self.id,
                span_index=s.index,
                span_count=self.span_count,
                start=s.start,
                end=s.end,
                token_count=s.token_count,
                doc_hash=self.hash,
                model=model,
                metadata={**self.metadata, **page_range(self.pages, s.start, s.text)}
                if self.pages
                else self.metadata,
            )
            for s, vector in zip(self.spans, self.vectors, strict=True)
        ]


def document_groups(
    items: Iterable[SourceItem],
    seen: set[str],
    report: IngestReport,
    size: int,
    chars: int,
    on_skip: Callable[[Skipped], None] | None = None,
) -> Iterator[list[Document] | LargeFile]:
    """Groups of at most ``size`` documents or ``chars`` characters of valid, first-seen
    documents (a large file alone); ``seen`` collects their ids, ``report`` counts skips, and
    ``on_skip`` hears of each (the source's and the invalid or repeated documents')."""
    group: list[Document] = []
    group_chars = 0
    for item in items:
        if not isinstance(item, Skipped):
            item = _validated(item, seen)
        if isinstance(item, Skipped):
            report.add_skip(item)
            if on_skip is not None:
                on_skip(item)
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
        group_chars += (
            len(item.text)
            if isinstance(item, SourceDocument)
            else item.size
            if isinstance(item, ConvertedFile)
            else 0
        )
        if len(group) >= size or group_chars >= chars:
            yield group
            group, group_chars = [], 0
    if group:
        yield group


def prepare(
    docs: Sequence[Document],
    stored: dict[str, StoredDocument],
    settings: str,
    splitter: Splitter,
    converter: FileConverter | None = None,
) -> list[DocumentWork]:
    """Stage 1, given what the store holds of ``docs``: hash each, split the changed ones (an
    unchanged document is read and hashed, never tokenised). ``converter`` converts the
    :class:`ConvertedFile` among them (required if there are any)."""
    works, loads = [], []
    for doc in docs:  # first hash all: the changed files to convert are then known at once
        work = DocumentWork(doc.id, doc.metadata, "", stored.get(doc.id))
        works.append(work)
        with _skip_on_failure(work):
            lazy = as_lazy(doc, converter) if isinstance(doc, ConvertedFile) else doc
            work.hash = hash_of(lazy, settings)
            if work.stored is None or not work.stored.is_complete(work.hash):
                loads.append((work, doc, lazy))
    if converter is not None:
        converter.prefetch(doc for _, doc, _ in loads if isinstance(doc, ConvertedFile))
    changed, texts = [], []
    for work, _, lazy in loads:
        text = ""
        with _skip_on_failure(work):
            if isinstance(lazy, LazyDocument):
                text, work.metadata, work.pages = lazy.load()
            else:
                text, work.pages = lazy.text, lazy.pages
        if work.skip is not None:
            continue
        if not text.strip():
            work.skip = "empty or whitespace only"
            continue
        changed.append(work)
        texts.append(text)
    for work, spans in zip(changed, splitter.split_many(texts), strict=True):
        work.set_spans(spans)
    return works


@contextlib.contextmanager
def _skip_on_failure(work: DocumentWork) -> Iterator[None]:
    """Reading or converting ``work``'s document: a failure becomes its skip reason."""
    try:
        yield
    except OSError as exc:
        work.skip = f"cannot read: {exc.strerror or exc}"
    except (SourceError, Unconvertible) as exc:
        work.skip = str(exc)


def prepare_large(
    file: LargeFile,
    stored_of: Callable[[str], StoredDocument | None],
    settings: str,
    splitter: Splitter,
) -> Iterator[list[DocumentWork]]:
    """Stage 1 for a file too large to hold: a first pass hashes it and counts its spans, a
    second splits it again piece by piece (one work each, offsets and indexes of the whole
    file); the last piece's write deletes the stale spans. ``stored_of(id)``: what the store
    holds of the file."""
    try:
        doc_hash = document_hash(
            (p for _, p in iter_text_pieces(file.path)), file.metadata, settings
        )
        count = sum(len(splitter.split(piece)) for _, piece in iter_text_pieces(file.path))
    except (OSError, UnicodeDecodeError) as exc:
        reason = (
            "not valid UTF-8"
            if isinstance(exc, UnicodeDecodeError)
            else f"cannot read: {exc.strerror or exc}"
        )
        yield [DocumentWork(file.id, file.metadata, "", skip=reason)]
        return
    stored = stored_of(file.id)
    if stored is not None and stored.is_complete(doc_hash):
        yield [DocumentWork(file.id, file.metadata, doc_hash, stored)]
        return
    index = 0
    pieces = with_last(iter_text_pieces(file.path))
    for (offset, piece), last in pieces:
        spans = [
            replace(s, start=s.start + offset, end=s.end + offset, index=s.index + index)
            for s in splitter.split(piece)
        ]
        index += len(spans)
        work = DocumentWork(file.id, file.metadata, doc_hash, stored, last=last)
        work.set_spans(spans, count)
        yield [replace(work, stored=stored if last else None)]


def with_last(items: Iterable[Any]) -> Iterator[tuple[Any, bool]]:
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


def as_lazy(file: ConvertedFile, converter: FileConverter | None) -> LazyDocument:
    """A file to convert as a lazy document: hashed from its bytes (one read), converted by
    ``converter`` on load. Raises ``OSError`` when the file cannot be read."""
    if converter is None:
        raise ValueError(f"{file.id!r} needs a converter")
    return LazyDocument(
        file.id, file.hash_input(), functools.partial(converter.convert, file), file.metadata
    )


def skipped(works: Iterable[DocumentWork]) -> list[Skipped]:
    """The documents that ``prepare`` skipped, with their reasons."""
    return [Skipped(w.id, w.skip) for w in works if w.skip is not None]


def record_skips(report: IngestReport, items: Iterable[Skipped]) -> None:
    """Count documents that were counted as seen, then skipped, under their reasons."""
    for item in items:
        report.documents -= 1
        report.add_skip(item)


@dataclass(frozen=True)
class SpanRange:
    """Spans ``start:stop`` of one work: what one embedding call holds of it. A long document
    is embedded in several ranges (one call each, so progress moves and a stop is seen between
    them); its vectors are complete, and it goes to the writer whole, after its last."""

    work: DocumentWork
    start: int
    stop: int

    @classmethod
    def whole(cls, work: DocumentWork) -> SpanRange:
        return cls(work, 0, len(work.spans or ()))

    @property
    def spans(self) -> list[Span]:
        return (self.work.spans or [])[self.start : self.stop]

    @property
    def completes(self) -> bool:
        """The range ends its work (and, on the last piece of a file, its document)."""
        return self.stop == len(self.work.spans or ())

    def piece(self) -> DocumentWork:
        """This embedded range as a work to write now: the range that completes its work also
        deletes the stale spans (on the document's last piece) and counts the resumed ones."""
        work, vectors = self.work, self.work.vectors
        assert vectors is not None  # embedded
        if not self.completes:
            work = replace(work, stored=None, last=False, resumed=0)
        return replace(work, spans=self.spans, vectors=vectors[self.start : self.stop])


def finished(part: Sequence[SpanRange]) -> list[DocumentWork]:
    """What the writer takes once ``part`` is embedded: the works it completes, and each range
    of a work that :attr:`~DocumentWork.writes_in_parts` (a stop then keeps the ranges written,
    and a re-run embeds only the rest); any other long document goes whole, after its last."""
    works = []
    for r in part:
        whole = r.start == 0 and r.completes
        if not whole and r.work.writes_in_parts:
            works.append(r.piece())
        elif r.completes:
            works.append(r.work)
    return works


def embed(works: Sequence[DocumentWork], embedder: EmbeddingEngine) -> None:
    """Stage 2: embed every span of ``works`` in one call (the engine batches by tokens)."""
    embed_ranges([SpanRange.whole(w) for w in works], embedder)


def embed_ranges(ranges: Sequence[SpanRange], embedder: EmbeddingEngine) -> None:
    """Embed the spans of ``ranges`` in one call, into their works' vectors (a work's vectors
    are complete once every range of it is embedded). An engine that embeds token ids gets the
    ids the splitter computed with its tokenizer; others (a server), the texts."""
    spans = [s for r in ranges for s in r.spans]
    if not spans:
        return
    ids = [s.token_ids for s in spans]
    if embeds_token_ids(embedder) and all(row is not None for row in ids):
        vectors = embedder.embed_token_ids(ids)  # type: ignore[arg-type]
    else:
        vectors = embedder.embed_documents([s.text for s in spans])
    vectors = checked_vectors(vectors, len(spans), embedder.dimension)
    at = 0
    for r in ranges:
        count = r.stop - r.start
        if not count:
            continue
        if r.start == 0 and r.completes:
            r.work.vectors = vectors[at : at + count]
        else:  # one range of several: the work's first range makes room for all
            if r.start == 0:
                shape = (len(r.work.spans or ()), *vectors.shape[1:])
                r.work.vectors = np.empty(shape, dtype=vectors.dtype)
            assert r.work.vectors is not None  # ranges come in order
            r.work.vectors[r.start : r.stop] = vectors[at : at + count]
        at += count


def span_parts(works: Sequence[DocumentWork], tokens: int) -> Iterator[list[SpanRange]]:
    """Consecutive runs of the spans of ``works`` holding at most ``tokens`` span tokens each
    (or one longer span): a document with more is cut into several ranges, in order."""
    part: list[SpanRange] = []
    count = 0
    for work in works:
        spans = work.spans or ()
        start = 0
        for i, span in enumerate(spans):
            if count and count + span.token_count > tokens:
                if i > start:
                    part.append(SpanRange(work, start, i))
                yield part
                part, count, start = [], 0, i
            count += span.token_count
        if start < len(spans) or not spans:
            part.append(SpanRange(work, start, len(spans)))
    if part:
        yield part


def write(
    works: Sequence[DocumentWork], store: VectorStore, model: str, report: IngestReport
) -> None:
    """Stage 3: write the new spans, then delete the stale ones of each finished document.
    Skipped documents are left to the caller (:func:`skipped`, :func:`record_skips`)."""
    changed = [w for w in works if w.spans is not None]
    report.unchanged += sum(w.spans is None and w.skip is None for w in works)
    report.tokens += sum(s.token_count for w in changed for s in w.spans or ())
    report.spans_resumed += sum(w.resumed for w in changed)
    per_doc = [w.records(model) for w in changed]
    for batch in write_batches(per_doc, store.max_batch_count, store.max_batch_bytes):
        store.upsert(batch)
        report.spans_written += len(batch)
    for work in changed:
        if work.last and work.stored is not None:
            store.delete_stale(work.id, work.hash)
            report.spans_deleted += work.stored.stale_after(work.span_count)


def prune(store: VectorStore, seen: set[str]) -> int:
    """Delete the documents of ``store`` that are not in ``seen``; how many were deleted."""
    gone = [doc_id for doc_id in store.iter_doc_ids() if doc_id not in seen]
    if gone:
        store.delete_documents(gone)
    return len(gone)


def write_batches(
    per_doc: Sequence[Sequence[SpanRecord]], max_count: int, max_bytes: int
) -> Iterator[list[SpanRecord]]:
    """Requests bounded by count and bytes; a document is kept in one request when it fits."""
    return size_bounded_groups(per_doc, SpanRecord.approx_bytes, max_bytes, max_count=max_count)


def _validated(doc: Document | LargeFile, seen: set[str]) -> SourceItem:
    if doc.id in seen:
        return Skipped.of(doc.id, "duplicate document id in this run (the first one was kept)")
    text = doc.text if isinstance(doc, SourceDocument) else None
    if problem := storage_problem(doc.id, text, doc.metadata):
        return Skipped.of(doc.id, problem)
    return doc
