"""Copy a collection between any two stores, through the ``VectorStore`` interface only."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from harrier._errors import StoreError
from harrier._records import SpanRecord
from harrier.ingestion._progress import Progress, use_bar
from harrier.ingestion._stages import write_batches
from harrier.stores.base import StoredDocument, VectorStore

logger = logging.getLogger("harrier")
_NOTHING = StoredDocument(frozenset())


@dataclass
class CopyReport:
    """The summary of one copy."""

    spans: int = 0
    copied: int = 0
    already_there: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.spans} spans read, {self.copied} copied, {self.already_there} already "
            f"in the target, in {self.seconds:.1f} s"
        )


def copy_collection(
    source: VectorStore,
    target: VectorStore,
    *,
    batch_size: int = 256,
    show_progress: bool | None = None,
    quiet: bool = False,
) -> CopyReport:
    """Copy every span of ``source`` into ``target``: ids, vectors, texts and metadata as is.

    The target collection is created for the source's model and dimension, or must already
    hold that model and dimension. Spans the target already holds in the same version are
    skipped, so a re-run (after a kill, or of a finished copy) writes only what is missing and
    ends equal to one clean copy. Pages of ``batch_size`` spans bound the memory.

    Progress: a bar (``show_progress``; None: when stderr is a terminal), else a line on the
    ``harrier.progress`` logger every 10 s with the time left; ``quiet``: neither.
    """
    started = time.perf_counter()
    recorded = source.collection_model()
    if recorded is None:
        raise StoreError(
            f"collection {source.collection!r} does not exist in {source!r}; nothing to copy"
        )
    target.ensure_collection(*recorded)
    report = CopyReport()
    logger.info("copying %s from %r to %r", source.collection, source, target)
    target.begin_bulk_load()
    try:
        with Progress(
            "copy",
            unit="span",
            describe=lambda: f"{report.spans:,} spans read, {report.copied:,} copied",
            bar=use_bar(show_progress),
            quiet=quiet,
        ) as progress:
            progress.set_total(source.count())
            for page in source.iter_records(batch_size):
                _copy_page(page, target, report)
                progress.advance(len(page))
    finally:
        target.end_bulk_load()
    report.seconds = time.perf_counter() - started
    logger.info("copy done: %s", report.summary())
    return report


def _copy_page(page: list[SpanRecord], target: VectorStore, report: CopyReport) -> None:
    """Write the spans of ``page`` that the target lacks, then drop older versions there."""
    held = target.stored_documents(sorted({r.doc_id for r in page}))
    missing = [
        r
        for r in page
        if (r.span_index, r.span_count, r.doc_hash) not in held.get(r.doc_id, _NOTHING).spans
    ]
    for batch in write_batches([missing], target.max_batch_count, target.max_batch_bytes):
        target.upsert(batch)
    versions: dict[str, set[str]] = {}
    for r in page:
        versions.setdefault(r.doc_id, set()).add(r.doc_hash)
    for doc_id, stored in held.items():
        (current,) = versions[doc_id] if len(versions[doc_id]) == 1 else (None,)
        if current is not None and any(d != current for _, _, d in stored.spans):
            target.delete_stale(doc_id, current)
    report.spans += len(page)
    report.copied += len(missing)
    report.already_there += len(page) - len(missing)
