"""``QdrantEdgeStore``: the embedded default, on the Qdrant engine itself (``qdrant-edge-py``).

The Rust engine runs in-process on one shard per collection: writes go through its write-ahead
log (a killed process loses nothing it was told), the skip check reads keyword payload indexes on
``doc_id`` and ``doc_hash``, and the HNSW index is built once at the end of a run
(``optimize()``); until then a search scans the vectors exactly. The payload is the one a Qdrant
server holds, so a collection copied to a server reads the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from harrier.stores import (
    SPARSE_VECTOR_NAME,
    Bm25Settings,
    ConfigurationError,
    Hit,
    ModelIdentity,
    SpanRecord,
    StoreError,
    VectorStore,
    arm_limit,
)
from harrier_qdrant._edge_shard import (
    SHARD_FOLDER,
    check_name,
    check_store_folder,
    edge,
    edge_config,
    open_shard,
    optimize_with_progress,
    read_record,
    shard_error,
    write_record,
)
from harrier_qdrant._edge_space import (
    BYTES_PER_RECORD_BYTE,
    HEADROOM,
    MIN_FREE,
    NEW_SHARD_BYTES,
    SpaceGuard,
    ensure_new_shard_space,
    ensure_space,
    free_bytes,
    usage,
)
from harrier_qdrant._filters import (
    SUPPORTED_OPERATORS,
    FilterClasses,
    metadata_value,
    to_qdrant_filter,
)
from harrier_qdrant._payload import to_hit, to_payload, to_record
from harrier_qdrant._quantization import check_quantization, edge_search_params
from harrier_qdrant._scans import SCROLL_PAGE, PointScans
from harrier_qdrant._sparse import RRF_CONSTANT, SparseVectors, dense_and_sparse, weights_list

logger = logging.getLogger("harrier")
T = TypeVar("T")

DEFAULT_PATH = Path(".harrier") / "qdrant"
"""Where the embedded store lives unless told otherwise."""


class QdrantEdgeStore(SparseVectors, PointScans, VectorStore):
    """A collection in an embedded Qdrant Edge store: the folder ``path / collection``.

    ``quantization`` (``"scalar"`` or ``"binary"``) is fixed when the collection is created;
    searches then rescore on the original vectors. One process at a time opens a collection;
    a second one gets ``StoreUnavailableError``. The engine writes through memory-mapped
    files, where a full disk kills the process (SIGBUS) instead of raising, so every write
    (and opening) first makes sure the disk can back it, else ``StoreWriteError``: see
    ``harrier_qdrant._edge_space``. New collections get a BM25 sparse vector
    (``langchain-sparse``, IDF modifier) unless ``sparse=False``.
    """

    max_batch_count = 256
    supported_operators = SUPPORTED_OPERATORS
    indexing_threshold_kb: int | None = None  # see edge_config; set before creating
    optimize_min_unindexed = 10_000  # a full scan of fewer unindexed spans costs a few ms

    def __init__(
        self,
        collection: str,
        *,
        path: str | Path | None = None,
        quantization: str | None = None,
        optimize: bool = True,
        sparse: bool = True,
        bm25: Bm25Settings | None = None,
    ) -> None:
        check_name(collection)
        self.collection = collection
        self.sparse = sparse
        self.bm25 = bm25 or Bm25Settings()
        self.root = Path(path if path is not None else DEFAULT_PATH)
        self.folder = self.root / collection
        self.quantization = check_quantization(quantization)
        self.optimize_after_load = optimize
        self._shard: Any = None
        self._space = SpaceGuard(self.folder / SHARD_FOLDER)
        self._search_params: Any = None
        self._changed = False
        self._filters = replace(EDGE_FILTERS, match_value=self._match_value)
        check_store_folder(self.root)
        record = read_record(self.folder)
        if record is not None:  # open now: a second process is refused at once
            self._open(record)

    def __repr__(self) -> str:
        return f"QdrantEdgeStore({self.collection!r}, {self.root})"

    # -- collection ----------------------------------------------------------------------------
    def collection_properties(self) -> dict[str, Any] | None:
        record = read_record(self.folder)
        if record is None:
            return None
        return {self.property_prefix + key: value for key, value in record.items()}

    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        logger.info(
            "creating Qdrant Edge collection %s in %s (dimension %d)",
            self.collection,
            self.root,
            dimension,
        )
        ensure_new_shard_space(self.root)
        try:
            created = write_record(
                self.folder,
                model,
                dimension,
                self.quantization,
                self.bm25_record() if self.sparse else None,
            )
        except OSError as exc:
            raise shard_error(exc, self.folder, "created") from None
        if not created:  # another process made it meanwhile: it must hold the same model
            self.ensure_collection(model, dimension)
        record = read_record(self.folder)
        if record is None:
            raise self._missing()
        self._open(record)

    def _open(self, record: dict[str, Any]) -> None:
        recorded = record.get("quantization")
        if self.quantization is not None and self.quantization != recorded:
            raise ConfigurationError(
                f"collection {self.collection!r} was created with quantization={recorded}; "
                f"it cannot change to {self.quantization}. Copy it into a new collection "
                "(harrier copy ... --quantization) or leave the option out"
            )
        self._shard = open_shard(
            self.folder / SHARD_FOLDER,
            edge_config(
                int(record["dimension"]),
                recorded,
                self.indexing_threshold_kb,
                sparse=record.get("bm25") is not None,
            ),
        )
        self._search_params = edge_search_params(recorded)

    @property
    def shard(self) -> Any:
        if self._shard is None:  # another writer may have created it since this store opened
            record = read_record(self.folder)
            if record is None:
                raise self._missing()
            self._open(record)  # refused at once while that writer holds it
        return self._shard

    def end_bulk_load(self) -> None:
        """Make the run durable, then index what it wrote once that is worth it.

        The index is (re)built when the unindexed spans reach ``optimize_min_unindexed`` and a
        fifth of the indexed ones: a small run into a large collection leaves its spans to the
        exact scan (milliseconds) instead of merging them into the large index (minutes)."""
        if self._shard is None:
            return
        self._flush()
        if not (self._changed and self.optimize_after_load):
            return
        info = self._engine("reading the shard's state", lambda shard: shard.info())
        indexed = info.indexed_vectors_count
        if self.has_sparse_vectors():  # BM25 vectors count as indexed at once, one per span
            indexed = max(0, indexed - info.points_count)
        if info.points_count - indexed >= max(self.optimize_min_unindexed, indexed // 5):
            self.optimize()

    def optimize(self) -> None:
        """Build the HNSW index (and quantized vectors) now; blocking, with a progress bar."""
        current = usage(self.folder)  # new segments: up to a copy of the old, and their holes
        needed = current.holes + current.allocated + NEW_SHARD_BYTES + HEADROOM
        if free_bytes(self.folder) < needed:
            logger.warning(
                "not building the search index of %s: it needs about %d MB free "
                "in %s. Searches stay exact (slower); free space and run again.",
                self.collection,
                needed // 2**20,
                self.folder,
            )
            return
        points = self.count()
        logger.info("building the search index of %s (%d spans)", self.collection, points)
        started = time.perf_counter()
        failure = optimize_with_progress(self.shard, f"Indexing {points:,} spans")
        if failure is not None:
            raise shard_error(failure, self.folder, "indexed")
        self._changed = False
        logger.info(
            "search index of %s built in %.1f s", self.collection, time.perf_counter() - started
        )

    def close(self) -> None:
        if self._shard is None:
            return
        try:
            self._flush()
        finally:
            shard, self._shard = self._shard, None
            shard.close()

    # -- reads ---------------------------------------------------------------------------------
    def search_vector(self, vector: np.ndarray, k: int, filter: Any = None) -> list[Hit]:
        request = edge.QueryRequest(
            limit=k,
            query=edge.Query.Nearest(np.asarray(vector, dtype=np.float32).tolist()),
            filter=to_qdrant_filter(filter, self._filters),
            with_payload=True,
            params=self._search_params,
        )
        points = self._engine("searching", lambda shard: shard.query(request))
        return [to_hit(p.id, p.score, p.payload or {}) for p in points]

    def search_sparse(self, text: str, k: int, filter: Any = None) -> list[Hit]:
        query = edge.Query.Nearest(
            edge.SparseVector(*self.query_weights(text)), using=SPARSE_VECTOR_NAME
        )
        request = edge.QueryRequest(
            limit=k, query=query, filter=to_qdrant_filter(filter, self._filters), with_payload=True
        )
        points = self._engine("searching", lambda shard: shard.query(request))
        return [to_hit(p.id, p.score, p.payload or {}) for p in points]

    def search_hybrid(
        self,
        vector: np.ndarray,
        text: str,
        k: int,
        filter: Any = None,
        weights: tuple[float, float] | None = None,
    ) -> list[Hit]:
        flt, limit = to_qdrant_filter(filter, self._filters), arm_limit(k)
        sparse = edge.SparseVector(*self.query_weights(text))
        prefetches = [
            edge.Prefetch(
                limit=limit,
                filter=flt,
                params=self._search_params,
                query=(edge.Query.Nearest(np.asarray(vector, dtype=np.float32).tolist())),
            ),
            edge.Prefetch(
                limit=limit, filter=flt, query=edge.Query.Nearest(sparse, using=SPARSE_VECTOR_NAME)
            ),
        ]
        request = edge.QueryRequest(
            limit=k,
            prefetches=prefetches,
            with_payload=True,
            query=edge.Fusion.Rrf(k=RRF_CONSTANT, weights=weights_list(weights)),  # type: ignore[arg-type]  # the stub omits Rrf
        )
        points = self._engine("searching", lambda shard: shard.query(request))
        return [to_hit(p.id, p.score, p.payload or {}) for p in points]

    def fetch_records(self, ids: Sequence[str]) -> list[SpanRecord]:
        points = self._engine("reading", lambda shard: shard.retrieve(list(ids), True, True))
        records = (to_record(p.id, p.vector, p.payload or {}) for p in points)
        return [r for r in records if r is not None]  # a foreign point is no span record

    def _match_value(self, key: str, value: str | bool, path: tuple[str, ...]) -> Any:
        """An exact match; a bool one by the ids holding it, read first: qdrant-edge-py 0.9.0
        passes a bool to the engine as the integer 1 or 0."""
        if not isinstance(value, bool):
            return _match(key, value)
        present = edge.Filter(must_not=[edge.IsEmptyCondition(key)])
        points = self._scroll(present, ["metadata"])
        return edge.HasIdCondition(
            {p.id for p in points if metadata_value(p.payload or {}, path) is value}
        )

    def count(self) -> int:
        return int(self._engine("counting", lambda shard: shard.count(edge.CountRequest())))

    def _doc_filter(self, doc_ids: Sequence[str]) -> Any:
        return _doc_filter(doc_ids)

    def _scroll(
        self, flt: Any, payload: list[str] | bool, *, vectors: bool = False, page: int = SCROLL_PAGE
    ) -> Iterator[Any]:
        offset = None
        while True:
            request = edge.ScrollRequest(
                offset=offset, limit=page, filter=flt, with_payload=payload, with_vector=vectors
            )
            points, offset = self._engine("reading", partial(_scroll, request=request))
            yield from points
            if offset is None:
                return

    # -- writes --------------------------------------------------------------------------------
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        growth = BYTES_PER_RECORD_BYTE * sum(r.approx_bytes() for r in records)
        points = [
            edge.Point(
                r.id,
                dense_and_sparse(
                    np.asarray(r.vector, dtype=np.float32).tolist(),
                    self.document_weights(r),
                    edge.SparseVector,
                ),
                to_payload(r),
            )
            for r in records
        ]
        self._update(
            f"writing {len(points)} spans", edge.UpdateOperation.upsert_points(points), growth
        )

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        selector = edge.Filter(
            must=[_match("doc_id", doc_id)], must_not=[_match("doc_hash", keep_hash)]
        )
        self._update(
            f"deleting stale spans of {doc_id!r}",
            edge.UpdateOperation.delete_points_by_filter(selector),
        )

    def delete_records(self, ids: Sequence[str]) -> None:
        self._update(f"deleting {len(ids)} spans", edge.UpdateOperation.delete_points(list(ids)))

    def delete_document_chunk(self, doc_ids: Sequence[str]) -> None:
        self._update(
            f"deleting {len(doc_ids)} documents",
            edge.UpdateOperation.delete_points_by_filter(_doc_filter(doc_ids)),
        )

    def _update(self, what: str, operation: Any, growth: int = MIN_FREE) -> None:
        self._engine(what, lambda shard: shard.update(operation), growth=growth)
        self._changed = True

    def _flush(self) -> None:
        """Flush the shard (closing flushes too): the disk must back its small files."""
        ensure_space(self.folder / SHARD_FOLDER, "flushing", 0, keep_free=0, flush=True)
        self._engine("flushing", lambda shard: shard.flush())

    def _engine(self, what: str, action: Callable[[Any], T], growth: int | None = None) -> T:
        """Run an engine call on the shard, turning its untyped errors into harrier's. A call
        that writes passes the bytes it may add (``growth``): the disk must back them first."""
        shard = self.shard  # opens a collection another writer made since; else typed errors
        if growth is not None:
            self._space.before(what, growth)
        try:
            return action(shard)
        except Exception as exc:
            raise shard_error(exc, self.folder / SHARD_FOLDER, what) from None

    def _missing(self) -> StoreError:
        return StoreError(
            f"collection {self.collection!r} does not exist in {self.root}; ingest into it first"
        )


def _scroll(shard: Any, request: Any) -> Any:
    return shard.scroll(request)


def _match(key: str, value: Any) -> Any:
    return edge.FieldCondition(key, match=edge.MatchValue(value))


def _doc_filter(doc_ids: Sequence[str]) -> Any:
    return edge.Filter(must=[edge.FieldCondition("doc_id", match=edge.MatchAny(list(doc_ids)))])


EDGE_FILTERS = FilterClasses(
    filter=edge.Filter,
    match_value=lambda key, value, _: _match(key, value),
    match_substring=lambda key, text: edge.FieldCondition(key, match=edge.MatchSubstring(text)),
    range=lambda key, **bounds: edge.FieldCondition(key, range=edge.RangeFloat(**bounds)),
    is_empty=edge.IsEmptyCondition,
    native=edge.Filter,
    store="Qdrant Edge",
)
"""How Qdrant Edge spells a harrier filter (``filter=`` may also be a ``qdrant_edge.Filter``)."""
