"""``MilvusStore``: a harrier ``VectorStore`` on a Milvus collection (Lite or a server)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pymilvus import AnnSearchRequest, RRFRanker

from harrier.stores import (
    RRF_K,
    Bm25Settings,
    ConfigurationError,
    Hit,
    ModelIdentity,
    NoSparseVectorsError,
    SpanRecord,
    StoreError,
    StoreLimitError,
    VectorStore,
    arm_limit,
    fuse_ranks,
    size_bounded,
)
from harrier_milvus._bm25 import bm25_text, search_requests, server_without_bm25
from harrier_milvus._connection import (
    MilvusClient,
    MilvusException,
    check_name,
    is_lite,
    is_transient,
    lite_disk_error,
    open_lite,
    open_server,
    quiet,
    redact,
    release_lite,
)
from harrier_milvus._expr import (
    ALL_ROWS,
    SUPPORTED_OPERATORS,
    doc_filter,
    id_filter,
    metadata_filter,
    operators_for,
    stale_filter,
)
from harrier_milvus._layout import (
    LOAD_SECONDS,
    PROPERTY_PREFIX,
    check_layout,
    create_span_collection,
    search_params,
)
from harrier_milvus._lite_limits import LiteSizeWatch
from harrier_milvus._payload import (
    HIT_FIELDS,
    RECORD_FIELDS,
    request_chunks,
    to_hit,
    to_record,
    to_row,
)

logger = logging.getLogger("harrier")
T = TypeVar("T")

STRONG = "Strong"
_ID_PAGE = 16_384  # the server's largest query window
_RECORD_PAGE = 64  # rows with vectors and whole texts


class MilvusStore(VectorStore):
    """A collection in Milvus: Milvus Lite in ``path`` by default, or a server at ``url``.

    The token comes from ``token`` or the ``MILVUS_TOKEN`` environment variable and is never
    logged. Text and metadata of any size are stored losslessly (see docs/milvus.md); every read
    asks for strong consistency. ``timeout`` bounds each call (loading a collection: at least
    five minutes), ``connect_timeout`` the opening. New collections get Milvus' BM25 function
    where it exists (servers >= 2.5 and Lite; on an older server a warning says the collection
    is dense-only); ``sparse=True`` demands it (an older server is refused), ``sparse=False``
    makes a dense-only collection.
    """

    max_batch_count = 256
    max_batch_bytes = 8 * 2**20
    property_prefix = PROPERTY_PREFIX
    supported_operators = SUPPORTED_OPERATORS

    def __init__(
        self,
        collection: str,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        token: str | None = None,
        client: MilvusClient | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        sparse: bool | None = None,
        bm25: Bm25Settings | None = None,
    ) -> None:
        if sum(x is not None for x in (path, url, client)) > 1:
            raise ConfigurationError("pass at most one of path, url and client")
        check_name(collection)
        self.collection = collection
        self.timeout = timeout
        self.sparse = sparse is not False
        self._bm25_optional = sparse is None  # dense-only, with a warning, where missing
        self.bm25 = bm25 or Bm25Settings()
        self._lite_db: Path | None = None
        if client is not None:
            self._where = "client"
        elif url is not None:
            client = open_server(url, token, connect_timeout)
            self._where = redact(url)
        else:
            client, self._lite_db = open_lite(path, connect_timeout)
            self._where = f"Milvus Lite {self._lite_db}"
        self.client = client
        self.is_lite = is_lite(client)
        self.supported_operators = operators_for(client)
        self._size_watch = LiteSizeWatch(collection) if self.is_lite else None
        self._loaded = False
        self._closed = False

    def __repr__(self) -> str:
        return f"MilvusStore({self.collection!r}, {self._where})"

    # -- collection ----------------------------------------------------------------------------
    def collection_properties(self) -> dict[str, Any] | None:
        if not self.client.has_collection(self.collection, timeout=self.timeout):
            return None
        info = self.client.describe_collection(self.collection, timeout=self.timeout)
        return dict(info.get("properties") or {})

    def check_properties(self, properties: dict[str, Any]) -> None:
        check_layout(self.collection, properties)

    def bm25_record(self) -> dict[str, Any]:
        """Milvus normalises lengths by the collection's own average, not ``avg_len``."""
        return {**self.bm25.record(), "avg_len": "collection"}

    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        version = server_without_bm25(self.client, self.is_lite) if self._bm25_optional else None
        if self.sparse and version is not None:
            logger.warning(
                "Milvus %s has no BM25 function (>= 2.5 has): collection %s gets dense "
                "vectors only, so searches are dense; --sparse (sparse=True) demands BM25",
                version,
                self.collection,
            )
            self.sparse = False
        logger.info(
            "creating Milvus collection %s (dimension %d, BM25 %s)",
            self.collection,
            dimension,
            "on" if self.sparse else "off",
        )
        recorded = self.properties(model, dimension)
        bm25 = self.bm25_record() if self.sparse else None
        self._write(
            f"creating the collection {self.collection!r}",
            lambda: create_span_collection(
                self.client,
                self.collection,
                recorded,
                dimension,
                lite=self.is_lite,
                timeout=self.timeout,
                bm25=bm25,
            ),
        )
        self._loaded = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with quiet():
            self.client.close()
        if self._lite_db is not None:
            release_lite(self._lite_db)

    # -- reads ---------------------------------------------------------------------------------
    def scan_spans(
        self, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterable[dict[str, Any]]:
        expr = ALL_ROWS if doc_ids is None else doc_filter(doc_ids)
        return self._query(expr, list(fields), _ID_PAGE)

    def search_vector(self, vector: np.ndarray, k: int, filter: Any = None) -> list[Hit]:
        self._ensure_loaded()
        query = np.asarray(vector, dtype=np.float32).tolist()
        results = self._consistent_read(
            "searching",
            self.client.search,
            data=[query],
            limit=k,
            filter=metadata_filter(filter, self.supported_operators),
            output_fields=HIT_FIELDS,
            search_params=search_params(self.is_lite, k),
            anns_field="vector",
        )
        return [to_hit(hit) for hit in results[0]]

    def search_sparse(self, text: str, k: int, filter: Any = None) -> list[Hit]:
        (request,) = self._requests(None, text, k, filter)
        # BM25 scores are never negative; Milvus Lite reports them negated
        return [replace(to_hit(hit), score=abs(hit["distance"])) for hit in self._search(request)]

    def search_hybrid(
        self,
        vector: np.ndarray,
        text: str,
        k: int,
        filter: Any = None,
        weights: tuple[float, float] | None = None,
    ) -> list[Hit]:
        """Milvus' ``RRFRanker``; with ``weights``, both arms fused here by weighted RRF (the
        formula Qdrant uses), as Milvus' rankers weigh scores, not ranks."""
        requests = self._requests(vector, text, arm_limit(k), filter)
        if weights is None:
            results = self._consistent_read(
                "searching",
                self.client.hybrid_search,
                requests,
                ranker=RRFRanker(RRF_K),
                limit=k,
                output_fields=HIT_FIELDS,
            )
            return [to_hit(hit) for hit in results[0]]
        arms = [[to_hit(hit) for hit in self._search(r)] for r in requests]
        return fuse_ranks(arms, weights, k)

    def _search(self, request: AnnSearchRequest) -> list[dict[str, Any]]:
        """The hits of one search request (one arm of a hybrid search)."""
        results = self._consistent_read(
            "searching",
            self.client.search,
            data=request.data,
            anns_field=request.anns_field,
            limit=request.limit,
            filter=request.expr,
            search_params=request.param,
            output_fields=HIT_FIELDS,
        )
        return list(results[0])

    def _requests(
        self, vector: np.ndarray | None, text: str, limit: int, filter: Any
    ) -> list[AnnSearchRequest]:
        """The search requests of each arm (dense only when ``vector`` is given)."""
        if not self.has_sparse_vectors():
            raise NoSparseVectorsError(self.no_sparse_message())
        self._ensure_loaded()
        return search_requests(
            vector,
            text,
            limit,
            metadata_filter(filter, self.supported_operators),
            search_params(self.is_lite, limit),
        )

    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        rows = self._query(doc_filter([doc_id]), RECORD_FIELDS, _RECORD_PAGE)
        records = (to_record(row) for row in rows)
        return sorted((r for r in records if r is not None), key=lambda r: r.span_index)

    def fetch_records(self, ids: Sequence[str]) -> list[SpanRecord]:
        records = (
            to_record(row) for row in self._query(id_filter(ids), RECORD_FIELDS, _RECORD_PAGE)
        )
        return [r for r in records if r is not None]  # a foreign row is no span record

    def iter_records(self, batch_size: int = 256) -> Iterator[list[SpanRecord]]:
        rows = self._query(ALL_ROWS, RECORD_FIELDS, min(batch_size, _RECORD_PAGE))
        records = (r for r in map(to_record, rows) if r is not None)  # foreign rows left out
        yield from size_bounded(records, lambda _: 1, batch_size)

    def count(self) -> int:
        self._ensure_loaded()
        rows = self._consistent_read(
            "counting", self.client.query, filter="", output_fields=["count(*)"]
        )
        return int(rows[0]["count(*)"])

    def _query(self, expr: str, fields: list[str], page: int) -> Iterator[dict[str, Any]]:
        """Every row matching ``expr``: one query when it fits a page, else the iterator."""
        self._ensure_loaded()
        options = {"filter": expr, "output_fields": fields}
        rows = self._consistent_read("querying", self.client.query, limit=page, **options)
        if len(rows) < page:
            yield from rows
            return
        pages = self._consistent_read(
            "querying", self.client.query_iterator, batch_size=page, **options
        )
        try:
            while batch := self._read("querying", pages.next):
                yield from batch
        finally:
            with quiet():
                pages.close()

    def _consistent_read(
        self, what: str, method: Callable[..., T], *args: Any, **options: Any
    ) -> T:
        """``method(collection, *args, **options)`` as a read, with strong consistency."""
        return self._read(
            what,
            partial(
                method,
                self.collection,
                *args,
                consistency_level=STRONG,
                timeout=self.timeout,
                **options,
            ),
        )

    def _ensure_loaded(self) -> None:
        """Search and query need the collection in memory (a no-op when it already is)."""
        if not self._loaded:
            self._read(
                "loading the collection",
                lambda: self.client.load_collection(
                    self.collection, timeout=max(self.timeout, LOAD_SECONDS)
                ),
            )
            self._loaded = True

    # -- writes --------------------------------------------------------------------------------
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        self._ensure_loaded()
        sparse = self.has_sparse_vectors()
        rows = [to_row(r, bm25_text(r.text) if sparse else None) for r in records]
        for chunk in request_chunks(rows):
            self._write(
                f"writing {len(chunk)} spans to {self.collection!r}",
                partial(self.client.upsert, self.collection, chunk, timeout=self.timeout),
            )
        if self._size_watch is not None:
            self._size_watch.written(self.count, len(records))

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        self._delete(stale_filter(doc_id, keep_hash), f"deleting stale spans of {doc_id!r}")

    def delete_records(self, ids: Sequence[str]) -> None:
        self._delete(id_filter(ids), f"deleting {len(ids)} spans")

    def delete_document_chunk(self, doc_ids: Sequence[str]) -> None:
        self._delete(doc_filter(doc_ids), f"deleting {len(doc_ids)} documents")

    def _delete(self, expr: str, what: str) -> None:
        self._ensure_loaded()
        self._write(
            what, lambda: self.client.delete(self.collection, filter=expr, timeout=self.timeout)
        )

    # -- errors --------------------------------------------------------------------------------
    def _attempt(self, action: Callable[[], T]) -> T:
        with quiet():
            return action()

    def is_transient(self, exc: BaseException) -> bool:
        return is_transient(exc)

    def translate_error(self, what: str, exc: BaseException) -> StoreError | None:
        """A harrier error with the server's reason (its messages never hold the token)."""
        if self._lite_db is not None and (error := lite_disk_error(exc, self._lite_db)):
            return error
        if not isinstance(exc, MilvusException):
            return None
        message = f"{what} failed: {exc.message}"
        if "exceed" in str(exc.message).lower():
            return StoreLimitError(f"{message}; a value is over what this Milvus can hold")
        return StoreError(message)
