"""The interface every vector store connector implements for the ingestion pipeline."""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from harrier._errors import CollectionMismatchError, StoreError, StoreWriteError
from harrier._identity import ModelIdentity
from harrier._records import Hit, SpanRecord

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
        return (
            hashes == {doc_hash} and len(counts) == 1 and indices == list(range(counts.pop()))
        )

    def stale_after(self, span_count: int) -> int:
        """How many stored spans a new version of ``span_count`` spans does not overwrite."""
        return sum(index >= span_count for index, _, _ in self.spans)


class VectorStore(abc.ABC):
    """A collection in a vector store, as the pipeline sees it.

    Connectors implement the abstract methods; records carry deterministic ids, so every write is
    an upsert and a re-run never duplicates.
    """

    collection: str
    max_batch_count: int = 128
    max_batch_bytes: int = 4 * 2**20

    @abc.abstractmethod
    def collection_model(self) -> tuple[ModelIdentity, int] | None:
        """The (model identity, dimension) recorded on the collection, or None if it does not
        exist. A collection of an older harrier recorded the name only (fingerprint None)."""

    @abc.abstractmethod
    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        """Create the collection for vectors of ``dimension``, recording ``model.to_record()``."""

    @abc.abstractmethod
    def stored_documents(self, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        """What is stored for each of ``doc_ids`` (absent ids are left out)."""

    @abc.abstractmethod
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        """Write records (insert or overwrite by id) in one request."""

    @abc.abstractmethod
    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        """Delete the spans of ``doc_id`` whose document hash is not ``keep_hash``."""

    @abc.abstractmethod
    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete every span of these documents."""

    @abc.abstractmethod
    def iter_doc_ids(self) -> Iterable[str]:
        """Every document id in the collection (for pruning)."""

    @abc.abstractmethod
    def search_vector(
        self, vector: np.ndarray, k: int, filter: Any = None
    ) -> list[Hit]:
        """The ``k`` nearest spans to ``vector`` (cosine), best first."""

    @abc.abstractmethod
    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        """Every stored span of ``doc_id``, with vectors, ordered by span index."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of spans in the collection."""

    def begin_bulk_load(self) -> None:  # noqa: B027 - optional hook
        """Called before a large load (e.g. defer index building)."""

    def end_bulk_load(self) -> None:  # noqa: B027 - optional hook
        """Called after a load, also after a failed one (restore what begin changed)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the client."""

    def ensure_collection(
        self, model: ModelIdentity, dimension: int, *, create: bool = True
    ) -> None:
        """Create the collection, or check that it was made by the same model and dimension.

        Models compare by fingerprint (the same weights under any path or name are accepted,
        other weights under the same name are not); a collection written before fingerprints
        were recorded compares by name."""
        recorded = self.collection_model()
        if recorded is None and not create:
            raise StoreError(
                f"collection {self.collection!r} does not exist in {self!r}; ingest into it first"
            )
        if recorded is None:
            self.create_collection(model, dimension)
            return
        recorded_model, recorded_dimension = recorded
        if recorded_dimension != dimension or not recorded_model.same_model(model):
            raise CollectionMismatchError(
                f"collection {self.collection!r} holds vectors of model {recorded_model} "
                f"(dimension {recorded_dimension}); refusing to add vectors of {model} "
                f"(dimension {dimension}). Use another collection, or the model that made "
                "this one."
            )


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
