"""The interface every vector store connector implements (docs/writing-a-store.md)."""

from __future__ import annotations

import abc
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from harrier._errors import (
    CollectionMismatchError,
    HarrierError,
    NoSparseVectorsError,
    StoreError,
    StoreUnavailableError,
    StoreWriteError,
)
from harrier._identity import ModelIdentity
from harrier._records import Hit, SpanRecord
from harrier.stores.bm25 import Bm25Settings

logger = logging.getLogger("harrier")
T = TypeVar("T")


@dataclass(frozen=True)
class StoredDocument:
    """What a store holds of one document: (span index, span count, document hash) per span."""

    spans: frozenset[tuple[int, int, str]]

    def is_complete(self, doc_hash: str) -> bool:
        """True when every span of this version, and nothing else, is stored."""
        counts = {count for _, count, _ in self.spans}
        hashes = {digest for _, _, digest in self.spans}
        indices = sorted(index for index, _, _ in self.spans)
        return hashes == {doc_hash} and len(counts) == 1 and indices == list(range(counts.pop()))

    def resumable(self, doc_hash: str, span_count: int) -> frozenset[int] | None:
        """The span indices of version ``doc_hash`` (of ``span_count`` spans) that a stopped run
        already wrote, when nothing else is stored (else None: the document is redone whole)."""
        if any(digest != doc_hash or count != span_count for _, count, digest in self.spans):
            return None
        return frozenset(index for index, _, _ in self.spans)

    def stale_after(self, span_count: int) -> int:
        """How many stored spans a new version of ``span_count`` spans does not overwrite."""
        return sum(index >= span_count for index, _, _ in self.spans)


class VectorStore(abc.ABC):
    """A collection in a vector store, as the pipeline sees it.

    What every store does the same way lives here: what is stored of a document and the
    document ids (over one scan, :meth:`scan_spans`), deletes of many documents in chunks, the
    check that a collection was made by harrier, and retries with typed errors for reads
    (:class:`StoreUnavailableError`) and writes (:class:`StoreWriteError`). A connector
    implements the abstract methods, classifies its client's errors (:meth:`is_transient`,
    :meth:`translate_error`) and runs each client call through :meth:`_read` or :meth:`_write`.
    Records carry deterministic ids, so every write is an upsert and a re-run never duplicates.
    """

    collection: str
    max_batch_count: int = 128
    max_batch_bytes: int = 4 * 2**20
    delete_chunk_size: int = 512
    """Document ids per delete request."""
    retry_attempts: int = 5
    retry_delay: float = 0.5
    """Seconds before the first retry; doubled before each next one."""
    property_prefix: str = "harrier_"
    """Before each name the collection records (``model``, ``dimension``, ``bm25``)."""
    sparse: bool = True
    """Whether ``create_collection`` adds BM25 vectors; an existing collection keeps its own."""
    bm25: Bm25Settings = Bm25Settings()
    supported_operators: frozenset[str] = frozenset()
    """The filter operators (docs/filters.md) this store translates; others are refused."""
    _has_sparse: bool | None = None

    # -- what a connector implements -------------------------------------------------------------
    @abc.abstractmethod
    def collection_properties(self) -> dict[str, Any] | None:
        """What the collection records (see :meth:`properties`), or None if it does not exist."""

    @abc.abstractmethod
    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        """Create the collection for vectors of ``dimension``, recording ``model.to_record()``."""

    @abc.abstractmethod
    def scan_spans(
        self, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterable[dict[str, Any]]:
        """``fields`` (names of ``SPAN_FIELDS``) of every span of ``doc_ids`` (None: all)."""

    @abc.abstractmethod
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        """Write records (insert or overwrite by id)."""

    @abc.abstractmethod
    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        """Delete the spans of ``doc_id`` whose document hash is not ``keep_hash``."""

    @abc.abstractmethod
    def delete_document_chunk(self, doc_ids: Sequence[str]) -> None:
        """Delete every span of these documents (at most ``delete_chunk_size``) in one request."""

    @abc.abstractmethod
    def search_vector(self, vector: np.ndarray, k: int, filter: Any = None) -> list[Hit]:
        """The ``k`` nearest spans to ``vector`` (cosine), best first.

        ``filter`` (every search method): a :data:`harrier.stores.Filter` or its dict short form
        (docs/filters.md; translate it with ``parse_filter`` and refuse operators outside
        ``supported_operators``), None, or the store's own filter object, passed through."""

    @abc.abstractmethod
    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        """Every stored span of ``doc_id``, with vectors, ordered by span index."""

    @abc.abstractmethod
    def iter_records(self, batch_size: int = 256) -> Iterator[list[SpanRecord]]:
        """Every stored span with its vector, in pages of at most ``batch_size`` (for copying)."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of spans in the collection."""

    def fetch_records(self, ids: Sequence[str]) -> list[SpanRecord]:
        """The stored spans with these span ids, with vectors; absent ids are left out."""
        raise StoreError(f"{self!r} cannot read spans by id")

    def delete_records(self, ids: Sequence[str]) -> None:
        """Delete the spans with these span ids (absent ids are ignored)."""
        raise StoreError(f"{self!r} cannot delete spans by id")

    def search_sparse(self, text: str, k: int, filter: Any = None) -> list[Hit]:
        """The ``k`` spans that score best for ``text`` under BM25, best first."""
        raise NoSparseVectorsError(self.no_sparse_message())

    def search_hybrid(
        self,
        vector: np.ndarray,
        text: str,
        k: int,
        filter: Any = None,
        weights: tuple[float, float] | None = None,
    ) -> list[Hit]:
        """Dense and BM25 results fused by reciprocal rank (``weights``: dense, sparse)."""
        raise NoSparseVectorsError(self.no_sparse_message())

    def bm25_record(self) -> dict[str, Any]:
        """The BM25 configuration this store records on the collections it creates."""
        return self.bm25.record()

    def is_transient(self, exc: BaseException) -> bool:
        """Whether a failed call is worth retrying (connection loss, an overloaded server)."""
        return isinstance(exc, (ConnectionError, TimeoutError))

    def translate_error(self, what: str, exc: BaseException) -> StoreError | None:
        """The harrier error for a failure that is not transient (None: raise it as it is)."""
        return None

    def check_properties(self, properties: dict[str, Any]) -> None:  # noqa: B027 - optional
        """Refuse a harrier collection this version cannot read (e.g. a newer layout)."""

    def begin_bulk_load(self) -> None:  # noqa: B027 - optional hook
        """Called before a large load (e.g. defer index building)."""

    def end_bulk_load(self) -> None:  # noqa: B027 - optional hook
        """Called after a load, also after a failed one (restore what begin changed)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the client."""

    # -- what every store does the same way ------------------------------------------------------
    def stored_documents(self, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        """What is stored for each of ``doc_ids`` (absent ids are left out)."""
        spans: dict[str, set[tuple[int, int, str]]] = {}
        for row in self.scan_spans(doc_ids, ("doc_id", "span_index", "span_count", "doc_hash")):
            spans.setdefault(row["doc_id"], set()).add(
                (int(row["span_index"]), int(row["span_count"]), row["doc_hash"])
            )
        return {doc_id: StoredDocument(frozenset(s)) for doc_id, s in spans.items()}

    def iter_doc_ids(self) -> Iterator[str]:
        """Every document id in the collection, once each (for pruning)."""
        seen: set[str] = set()
        for row in self.scan_spans(None, ("doc_id",)):
            doc_id = row.get("doc_id")
            if doc_id is not None and doc_id not in seen:
                seen.add(doc_id)
                yield doc_id

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete every span of these documents, ``delete_chunk_size`` ids per request."""
        ids = list(doc_ids)
        for start in range(0, len(ids), self.delete_chunk_size):
            self.delete_document_chunk(ids[start : start + self.delete_chunk_size])

    def collection_model(self) -> tuple[ModelIdentity, int] | None:
        """The (model identity, dimension) recorded on the collection, or None if it does not
        exist. A collection of an older harrier recorded the name only (fingerprint None)."""
        return self._model_of(self._recorded_properties())

    def _recorded_properties(self) -> dict[str, Any] | None:
        return self._read("checking the collection", self.collection_properties)

    def _model_of(self, properties: dict[str, Any] | None) -> tuple[ModelIdentity, int] | None:
        if properties is None:
            return None
        recorded = {
            key.removeprefix(self.property_prefix): value
            for key, value in properties.items()
            if key.startswith(self.property_prefix)
        }
        if "model" not in recorded or "dimension" not in recorded:
            raise CollectionMismatchError(
                f"collection {self.collection!r} was not created by harrier (it records no "
                "model); use a new collection name"
            )
        self.check_properties(properties)
        return ModelIdentity.from_record(recorded), int(recorded["dimension"])

    def properties(self, model: ModelIdentity, dimension: int) -> dict[str, str]:
        """What a new collection records about its vectors (names under ``property_prefix``):
        the model's identity (``model.to_record()``), the dimension and, with ``sparse``, the
        BM25 configuration (JSON)."""
        recorded = {**model.to_record(), "dimension": str(dimension)}
        if self.sparse:
            recorded["bm25"] = json.dumps(self.bm25_record(), sort_keys=True)
        return {self.property_prefix + key: value for key, value in recorded.items()}

    def collection_bm25(self) -> dict[str, Any] | None:
        """The BM25 configuration the collection records; None when it has no BM25 vectors."""
        return self._bm25_of(self._recorded_properties())

    def _bm25_of(self, properties: dict[str, Any] | None) -> dict[str, Any] | None:
        value = (properties or {}).get(self.property_prefix + "bm25")  # JSON, or a store's own dict
        self._has_sparse = value is not None
        if value is None:
            return None
        return dict(json.loads(value) if isinstance(value, str) else value)

    def missing_collection(self) -> StoreError:
        """The error of a read from a collection that does not exist."""
        return StoreError(
            f"collection {self.collection!r} does not exist in {self!r}; ingest into it first"
        )

    def has_sparse_vectors(self) -> bool:
        """Whether the collection holds BM25 vectors (asked of the store once)."""
        if self._has_sparse is None:
            self.collection_bm25()
        return bool(self._has_sparse)

    def no_sparse_message(self) -> str:
        return (
            f"collection {self.collection!r} in {self!r} holds no BM25 vectors, so only dense "
            "search works on it; to add them, ingest again into a new collection without "
            "--no-sparse (sparse=True, the default), or search with mode='dense'"
        )

    def ensure_collection(
        self, model: ModelIdentity, dimension: int, *, create: bool = True
    ) -> None:
        """Create the collection, or check that it was made by the same model and dimension.

        Models compare by fingerprint (the same weights under any path or name are accepted,
        other weights under the same name are not); a collection written before fingerprints
        were recorded compares by name."""
        properties = self._recorded_properties()
        recorded = self._model_of(properties)
        if recorded is None and not create:
            raise self.missing_collection()
        if recorded is None:
            self.create_collection(model, dimension)
            self._has_sparse = self.sparse
            return
        recorded_model, recorded_dimension = recorded
        if recorded_dimension != dimension or not recorded_model.same_model(model):
            raise CollectionMismatchError(
                f"collection {self.collection!r} holds vectors of model {recorded_model} "
                f"(dimension {recorded_dimension}); refusing to add vectors of {model} "
                f"(dimension {dimension}). Use another collection, or the model that made "
                "this one."
            )
        bm25 = self._bm25_of(properties)
        if bm25 is not None and bm25 != self.bm25_record():
            raise CollectionMismatchError(
                f"collection {self.collection!r} holds BM25 vectors made with {bm25}; this "
                f"store makes {self.bm25_record()}. Use another collection, or the same BM25 "
                "settings."
            )

    def _read(self, what: str, action: Callable[[], T]) -> T:
        """Run a read, retrying transient failures; then :class:`StoreUnavailableError`."""
        return self._call(
            f"{what} in {self.collection!r}",
            action,
            StoreUnavailableError,
            "run the same command again",
        )

    def _write(self, what: str, action: Callable[[], T]) -> T:
        """Run a write, retrying transient failures; then :class:`StoreWriteError`."""
        return self._call(
            what,
            action,
            StoreWriteError,
            "run the same command again: finished documents are skipped",
        )

    def _attempt(self, action: Callable[[], T]) -> T:
        """One call to the client (a connector may wrap it, e.g. to quiet the client's logs)."""
        return action()

    def _call(self, what: str, action: Callable[[], T], error: type[StoreError], hint: str) -> T:
        try:
            return retry(
                lambda: self._attempt(action),
                what=what,
                transient=self.is_transient,
                attempts=self.retry_attempts,
                first_delay=self.retry_delay,
                resume_hint=hint,
                error=error,
            )
        except HarrierError:
            raise
        except Exception as exc:
            translated = self.translate_error(what, exc)
            if translated is None:
                raise
            raise translated from exc


def retry(
    action: Callable[[], T],
    *,
    what: str,
    transient: Callable[[BaseException], bool],
    attempts: int = 5,
    first_delay: float = 0.5,
    resume_hint: str = "run the same command again: finished documents are skipped",
    error: type[StoreError] = StoreWriteError,
) -> T:
    """Run ``action``, retrying errors that ``transient`` accepts with exponential backoff.

    After the last attempt raise ``error`` (``StoreWriteError`` unless told) saying what failed
    and how to resume.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not transient(exc):
                raise
            if attempt == attempts:
                raise error(
                    f"{what} failed after {attempts} attempts ({type(exc).__name__}: {exc}). "
                    f"Nothing already stored was lost; when the store is back, {resume_hint}."
                ) from exc
            logger.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, delay)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
