"""The stages of :func:`harrier.ray_ingest.ingest_on_ray`: what runs in Ray actors and tasks.

Rows hold one pickled :class:`_Work` each (one document), so a document never splits across
blocks and one write task writes all its spans, then deletes its stale ones. The logic of each
stage is the single-process pipeline's (``split_changed``, ``span_records``, ``write_group``).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
from ray.data import Datasink
from ray.data.block import BlockAccessor

from harrier._documents import Skipped, SourceDocument
from harrier._embedder import Embedder
from harrier._ingest import IngestReport, _Prepared, span_records, split_changed, write_group
from harrier._loading import _token_limit
from harrier._model_files import resolve_folder
from harrier._spans import Span, split_spans
from harrier._store import StoredDocument
from harrier._store_spec import open_store
from harrier.convert import ConvertedFile, FileConverter

COUNTS = ("unchanged", "spans_written", "spans_deleted", "tokens")
"""What the write tasks count; the driver counts the rest."""


@dataclass
class Work:
    """One document between stages; ``spans`` is None while unsplit or when it is unchanged,
    ``skip`` the reason when it could not be read or converted."""

    doc: SourceDocument | ConvertedFile
    doc_hash: str = ""
    stored: StoredDocument | None = None
    spans: list[Span] | None = None
    vectors: np.ndarray | None = None
    skip: str | None = None


def work_of(doc: SourceDocument | ConvertedFile) -> Work:
    """A document as the driver sends it: a file to convert travels with its bytes."""
    if not isinstance(doc, ConvertedFile):
        return Work(doc)
    try:
        return Work(doc.with_data())
    except OSError as exc:
        return Work(SourceDocument(doc.id, ""), skip=f"cannot read: {exc.strerror or exc}")


def encode(works: Iterable[Work]) -> pa.Table:
    """A block of one binary column (pickles are exact: metadata types and text survive)."""
    rows = [pickle.dumps(w, protocol=pickle.HIGHEST_PROTOCOL) for w in works]
    return pa.table({"work": pa.array(rows, pa.large_binary())})


def decode(block: Any) -> list[Work]:
    table = BlockAccessor.for_block(block).to_arrow()
    return [pickle.loads(row) for row in table.column("work").to_pylist()]


def model_info(model: str) -> tuple[Any, int, int]:
    """(tokenizer, dimension, token limit) of ``model``, as the engine loads them, no weights."""
    from transformers import AutoConfig, AutoTokenizer

    folder = resolve_folder(model, revision=None, local_files_only=False)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return tokenizer, int(text.hidden_size), _token_limit(folder, tokenizer, text)


class Prepare:
    """Stage 1 (actors with a tokenizer and a store client): keep the changed documents of a
    block, convert and split them, and drop their text."""

    def __init__(self, store: str, collection: str, model: str, max_tokens: int, overlap: int,
                 settings: str, convert_timeout: float) -> None:
        self.store = open_store(store, collection)
        self.converter = FileConverter(convert_timeout)
        self.tokenizer = model_info(model)[0]
        self.max_tokens, self.overlap, self.settings = max_tokens, overlap, settings

    def _split(self, text: str) -> list[Span]:
        return split_spans(text, self.tokenizer, max_tokens=self.max_tokens,
                           overlap_tokens=self.overlap)

    def __call__(self, block: pa.Table) -> pa.Table:
        works = decode(block)
        docs = [w.doc for w in works if w.skip is None]
        group = split_changed(docs, self.store.stored_documents([d.id for d in docs]),
                              self.settings, self._split, self.converter)
        changed = {d.id: (d, spans) for d, spans in zip(group.docs, group.splits, strict=True)}
        skips = {s.id: s.reason for s in group.skipped}
        return encode(
            Work(replace(changed[w.doc.id][0], text=""), group.hashes[w.doc.id],
                 group.stored.get(w.doc.id), changed[w.doc.id][1]) if w.doc.id in changed
            else Work(SourceDocument(w.doc.id, ""), skip=w.skip or skips.get(w.doc.id))
            for w in works
        )


class Embed:
    """Stage 2 (``actors`` actors, one Embedder each): embed every span of a block at once."""

    def __init__(self, model: str, device: str) -> None:
        self.embedder = Embedder.from_pretrained(model, device=device)

    def __call__(self, block: pa.Table) -> pa.Table:
        works = decode(block)
        texts = [s.text for w in works for s in w.spans or ()]
        vectors = self.embedder.embed_documents(texts) if texts else None
        start = 0
        for work in works:
            if work.spans and vectors is not None:
                work.vectors = vectors[start:start + len(work.spans)].copy()
                start += len(work.spans)
        return encode(works)


class StoreSink(Datasink[dict[str, int]]):
    """Stage 3: write each block through the store's ``VectorStore`` API, as ``ingest`` does
    (bounded upserts, then ``delete_stale`` per changed document). Each write task opens the
    store from its spec; after the job, ``counts`` holds the totals."""

    def __init__(self, store: str, collection: str, model: str) -> None:
        self.store, self.collection, self.model = store, collection, model
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.skips: list[Skipped] = []

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        report = IngestReport()
        skips: list[tuple[str, str]] = []
        store = open_store(self.store, self.collection)
        try:
            for block in blocks:
                works = decode(block)
                changed = [w for w in works if w.spans is not None]
                skipped = [(w.doc.id, w.skip) for w in works if w.skip is not None]
                skips.extend(skipped)
                report.unchanged += len(works) - len(changed) - len(skipped)
                report.tokens += sum(s.token_count for w in changed for s in w.spans or ())
                group = _Prepared(
                    len(works), [w.doc for w in changed], {w.doc.id: w.doc_hash for w in changed},
                    {w.doc.id: w.stored for w in changed if w.stored is not None},
                    [w.spans or [] for w in changed], [len(w.spans or ()) for w in changed])
                vectors = [v for w in changed if w.vectors is not None for v in w.vectors]
                group.records = span_records(group, vectors, self.model)
                write_group(store, group, report)
        finally:
            store.close()
        return {"skips": skips, **{key: getattr(report, key) for key in COUNTS}}

    def on_write_complete(self, write_result: Any) -> None:
        for counts in write_result.write_returns:
            for key in COUNTS:
                self.counts[key] += counts[key]
            self.skips.extend(Skipped(*skip) for skip in counts["skips"])
