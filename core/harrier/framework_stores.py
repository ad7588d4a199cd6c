"""What the LangChain and LlamaIndex vector stores share, over any harrier ``VectorStore``.

Two kinds of records live in one collection:

- **spans** made by harrier's splitter (``harrier ingest``, or a framework's ``split`` option):
  span ``i`` of document ``d`` has the id ``span_id(d, i)``, and its character offsets;
- **whole texts** added through a framework store, each one record whose text is the whole
  text: its id is :func:`whole_id` of the framework's id (a different namespace, so the two never
  collide), and it comes back exactly as it was added (:func:`is_whole`).

A whole text is a harrier document of one span (``doc_id`` = the framework's id), hashed like a
document, so :func:`write_whole` skips an unchanged text, writes a changed one before deleting
what is left of its older version, and a re-run never duplicates. Searches run through
:func:`search` with harrier's modes (``dense``, ``sparse``, ``hybrid``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harrier._errors import ConfigurationError, InputError, InputTypeError, NoSparseVectorsError
from harrier._identity import ModelIdentity
from harrier._records import Hit, SpanRecord, canonical_json, document_hash
from harrier.ingestion._stages import write_batches
from harrier.stores.base import VectorStore
from harrier.stores.registry import open_store

__all__ = [
    "SearchMode",
    "WholeText",
    "collection_exists",
    "embedding_identity",
    "is_whole",
    "open_collection",
    "search",
    "span_metadata",
    "upsert_records",
    "whole_id",
    "write_whole",
]

SearchMode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")

WHOLE_NAMESPACE = uuid.UUID("3b0c6f52-8d1e-5a47-9c3e-2f6a1d8e7b05")
"""The UUIDv5 namespace of whole-text ids: never change it, or re-runs would duplicate."""


def whole_id(doc_id: str) -> str:
    """The record id of a whole text added under the framework id ``doc_id``."""
    return str(uuid.uuid5(WHOLE_NAMESPACE, doc_id))


def is_whole(hit: Hit | SpanRecord) -> bool:
    """Whether a stored record is a whole text added through a framework store."""
    return hit.doc_id is not None and hit.id == whole_id(hit.doc_id)


def span_metadata(record: Hit | SpanRecord) -> dict[str, Any]:
    """A record's metadata, with where a span stands in its document (``doc_id``,
    ``span_index``, ``start``, ``end``); a whole text's metadata as it was added."""
    metadata = dict(record.metadata)
    if not is_whole(record):
        metadata.update(
            doc_id=record.doc_id,
            span_index=record.span_index,
            start=record.start,
            end=record.end,
        )
    return metadata


def collection_exists(store: VectorStore, known: bool) -> bool:
    """Whether the collection exists: ``known`` (a framework store remembers a yes), else
    asked of the store."""
    return known or store.collection_model() is not None


def embedding_identity(name: str) -> ModelIdentity:
    """What a collection records of an embedding that is not a Harrier model: its name only,
    so later writers are compared by name (and by dimension)."""
    return ModelIdentity(name, None)


def open_collection(store: str | VectorStore, collection: str) -> VectorStore:
    """``store`` as it is, or opened from a store spec as the command line takes it
    (``qdrant``, ``qdrant:PATH``, ``qdrant-local:PATH``, ``milvus:PATH``, server URLs)."""
    if isinstance(store, VectorStore):
        return store
    if not isinstance(store, str):
        raise ConfigurationError(
            f"store must be a store spec such as 'qdrant' or 'milvus:./m.db', or a harrier "
            f"store object, not {type(store).__name__}"
        )
    return open_store(store, collection)


@dataclass(frozen=True)
class WholeText:
    """One text to store whole under the framework id ``doc_id``."""

    doc_id: str
    text: str
    metadata: dict[str, Any]


def write_whole(
    store: VectorStore,
    items: Sequence[WholeText],
    embed: Callable[[list[str]], np.ndarray],
    model: ModelIdentity,
) -> int:
    """Store each text whole; the number of texts embedded and written.

    An unchanged text (same text, metadata and model) is neither embedded nor written. A
    changed one is written first, then what remains of its older version (e.g. the spans of an
    earlier split) is deleted, so a failed write leaves the older version readable.
    ``embed`` returns one row per text; the collection is created (or checked) for ``model``
    and the vectors' dimension before the first write."""
    ids = [item.doc_id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) < len(ids) else []
    if duplicates:
        raise ConfigurationError(f"ids {duplicates} appear more than once in one call")
    settings = canonical_json(["whole", model.fingerprint or model.name])
    hashes = [document_hash(item.text, item.metadata, settings) for item in items]
    stored = store.stored_documents(ids) if store.collection_model() is not None else {}
    changed = [
        (item, digest)
        for item, digest in zip(items, hashes, strict=True)
        if item.doc_id not in stored or not stored[item.doc_id].is_complete(digest)
    ]
    if not changed:
        return 0
    vectors = np.asarray(embed([item.text for item, _ in changed]), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(changed):
        raise ConfigurationError(
            f"the embedding returned {len(vectors)} vectors for {len(changed)} texts"
        )
    store.ensure_collection(model, int(vectors.shape[1]))
    records = [
        SpanRecord(
            id=whole_id(item.doc_id),
            vector=vector,
            text=item.text,
            doc_id=item.doc_id,
            span_index=0,
            span_count=1,
            start=0,
            end=len(item.text),
            token_count=0,
            doc_hash=digest,
            model=model.name,
            metadata=item.metadata,
        )
        for (item, digest), vector in zip(changed, vectors, strict=True)
    ]
    upsert_records(store, records)
    for item, digest in changed:
        if item.doc_id in stored:
            store.delete_stale(item.doc_id, digest)
    return len(records)


def upsert_records(store: VectorStore, records: Sequence[SpanRecord]) -> None:
    """Write ``records`` in requests bounded by the store's count and byte limits."""
    for batch in write_batches([records], store.max_batch_count, store.max_batch_bytes):
        store.upsert(batch)


def check_query(query: str) -> None:
    """Refuse a query with no words (``harrier search ""``, an empty question in a chain):
    BM25 matches nothing for it, and its embedding is the instruction's alone, whose nearest
    spans mean nothing. The frameworks' own vector-store classes keep their behaviour."""
    if not isinstance(query, str):
        raise InputTypeError(None, query)
    if not query.strip():
        raise InputError("the query is empty: pass the words to search for")


def search(
    store: VectorStore,
    text: str,
    *,
    k: int,
    mode: str = "dense",
    filter: Any = None,
    weights: tuple[float, float] | None = None,
    vector: Callable[[], np.ndarray | Sequence[float]] | None = None,
) -> list[Hit]:
    """The ``k`` best records for ``text`` (sparse, BM25) or for ``vector()`` (dense), or both
    fused (hybrid, ``weights``: dense, sparse); what ``harrier.Index.search`` returns for the
    same query vector. The collection must exist (see ``VectorStore.collection_model``)."""
    if k < 1:
        raise ConfigurationError(f"k={k} must be at least 1")
    if mode not in MODES:
        raise ConfigurationError(f"unknown search mode {mode!r}; use one of {MODES}")
    if weights is not None and (
        mode != "hybrid" or len(weights) != 2 or min(weights) < 0 or max(weights) <= 0
    ):
        raise ConfigurationError(
            "weights are (dense, sparse): two non-negative numbers, not both zero, and only "
            "for mode='hybrid'"
        )
    if mode != "sparse" and vector is None:
        raise ConfigurationError(f"mode={mode!r} needs a query vector")
    if mode != "dense" and not store.has_sparse_vectors():
        raise NoSparseVectorsError(store.no_sparse_message())
    if mode == "sparse":
        return store.search_sparse(text, k, filter)
    assert vector is not None
    query = np.asarray(vector(), dtype=np.float32)
    if mode == "dense":
        return store.search_vector(query, k, filter)
    return store.search_hybrid(query, text, k, filter, weights)
