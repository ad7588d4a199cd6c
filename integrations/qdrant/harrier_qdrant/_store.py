"""``QdrantClientStore``: a harrier store on a collection reached through qdrant-client (a server
or its local mode), and ``QdrantStore``, which opens it or the embedded Qdrant Edge store."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from harrier.stores import (
    SPARSE_VECTOR_NAME,
    Bm25Settings,
    Hit,
    ModelIdentity,
    SpanRecord,
    StoreDamagedError,
    StoreError,
    StoreUnavailableError,
    VectorStore,
    arm_limit,
)
from harrier.stores.paths import disk_problem, folder_error, prepare_store_folder
from harrier_qdrant._edge_shard import RECORD_FILE, check_name
from harrier_qdrant._edge_store import QdrantEdgeStore
from harrier_qdrant._filters import SUPPORTED_OPERATORS, FilterClasses, to_qdrant_filter
from harrier_qdrant._payload import to_hit, to_payload, to_record
from harrier_qdrant._quantization import (
    check_quantization,
    client_quantization,
    client_search_params,
)
from harrier_qdrant._scans import SCROLL_PAGE, PointScans
from harrier_qdrant._sparse import RRF_CONSTANT, SparseVectors, dense_and_sparse, weights_list

try:
    from qdrant_client import QdrantClient, models
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "harrier_qdrant needs qdrant-client: pip install 'harrier-suite[qdrant]'"
    ) from exc

logger = logging.getLogger("harrier")

LOCAL_PATH = Path(".harrier") / "qdrant"
"""Where qdrant-client's local mode store lives unless told otherwise."""

_LOCAL_STORE = "embedded Qdrant store (local mode)"
_BULK_INDEXING_THRESHOLD = 0  # 0 disables HNSW building until restored


def QdrantStore(
    collection: str,
    *,
    path: str | Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    prefer_grpc: bool = False,
    timeout: int = 30,
    client: QdrantClient | None = None,
    local_mode: bool = False,
    quantization: str | None = None,
    sparse: bool = True,
    bm25: Bm25Settings | None = None,
) -> QdrantEdgeStore | QdrantClientStore:
    """A collection in Qdrant: a server at ``url`` (or a given ``client``), else the embedded
    default, a :class:`QdrantEdgeStore` in ``path``; ``local_mode=True`` opens qdrant-client's
    local mode there instead (what earlier versions wrote, and what ``langchain_qdrant`` reads).
    See :class:`QdrantClientStore` and :class:`QdrantEdgeStore` for the options."""
    if url is None and client is None and not local_mode:
        return QdrantEdgeStore(
            collection, path=path, quantization=quantization, sparse=sparse, bm25=bm25
        )
    return QdrantClientStore(
        collection,
        path=path,
        url=url,
        api_key=api_key,
        prefer_grpc=prefer_grpc,
        timeout=timeout,
        client=client,
        quantization=quantization,
        sparse=sparse,
        bm25=bm25,
    )


class QdrantClientStore(SparseVectors, PointScans, VectorStore):
    """A collection reached through qdrant-client: a server at ``url``, a given ``client``, or
    else qdrant-client's local mode in ``path``.

    The API key comes from ``api_key`` or the ``QDRANT_API_KEY`` environment variable and is
    never logged. On a server, keyword indexes on ``doc_id`` and ``doc_hash`` are created with
    the collection, HNSW building is deferred during bulk loads, and ``quantization``
    (``"scalar"`` or ``"binary"``) applies with rescoring on the original vectors. New
    collections get a BM25 sparse vector named ``langchain-sparse`` with Qdrant's IDF modifier
    unless ``sparse=False`` (``bm25``: its parameters).
    """

    supported_operators = SUPPORTED_OPERATORS

    def __init__(
        self,
        collection: str,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        prefer_grpc: bool = False,
        timeout: int = 30,
        client: QdrantClient | None = None,
        quantization: str | None = None,
        sparse: bool = True,
        bm25: Bm25Settings | None = None,
    ) -> None:
        self.collection = collection
        self.sparse = sparse
        self.bm25 = bm25 or Bm25Settings()
        self.quantization = check_quantization(quantization)
        self.is_server = url is not None or (client is not None and not _is_local(client))
        if not self.is_server:  # local mode makes a folder of each collection
            check_name(collection)
        if client is None:
            client = _connect(path, url, api_key, prefer_grpc, timeout)
        self.client = client
        self._saved_hnsw: models.OptimizersConfigDiff | None = None

    def __repr__(self) -> str:
        where = "server" if self.is_server else "local"
        return f"QdrantClientStore({self.collection!r}, {where})"

    # -- collection ----------------------------------------------------------------------------
    def collection_properties(self) -> dict[str, Any] | None:
        if not self.client.collection_exists(self.collection):
            return None
        config = self.client.get_collection(self.collection).config
        if self.quantization is None:  # searches rescore as the collection was made
            self.quantization = _quantization_name(config.quantization_config)
        return dict(config.metadata or {})

    def create_collection(self, model: ModelIdentity, dimension: int) -> None:
        logger.info(
            "creating Qdrant collection %s (dimension %d, BM25 %s)",
            self.collection,
            dimension,
            "on" if self.sparse else "off",
        )
        vectors = models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        sparse = (
            {SPARSE_VECTOR_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)}
            if self.sparse
            else None
        )
        recorded = self.properties(model, dimension)
        self._write(
            f"creating the collection {self.collection!r}",
            lambda: self.client.create_collection(
                self.collection,
                vectors_config=vectors,
                sparse_vectors_config=sparse,
                metadata=recorded,
                quantization_config=client_quantization(self.quantization),
            ),
        )
        for name in ("doc_id", "doc_hash") if self.is_server else ():
            self._write(
                f"indexing {name}",
                partial(
                    self.client.create_payload_index,
                    self.collection,
                    name,
                    models.PayloadSchemaType.KEYWORD,
                    wait=True,
                ),
            )

    def begin_bulk_load(self) -> None:
        if not self.is_server:
            return
        config = self._read(
            "reading the collection", lambda: self.client.get_collection(self.collection)
        ).config.optimizer_config
        self._saved_hnsw = models.OptimizersConfigDiff(indexing_threshold=config.indexing_threshold)
        self._write(
            "deferring index building",
            lambda: self.client.update_collection(
                self.collection,
                optimizers_config=models.OptimizersConfigDiff(
                    indexing_threshold=_BULK_INDEXING_THRESHOLD
                ),
            ),
        )

    def end_bulk_load(self) -> None:
        if self._saved_hnsw is not None:
            saved, self._saved_hnsw = self._saved_hnsw, None
            self._write(
                "restoring index building",
                lambda: self.client.update_collection(self.collection, optimizers_config=saved),
            )

    def close(self) -> None:
        self.client.close()

    # -- reads ---------------------------------------------------------------------------------
    def search_vector(self, vector: np.ndarray, k: int, filter: Any = None) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32).tolist()
        flt = to_qdrant_filter(filter, CLIENT_FILTERS)
        result = self._read(
            "searching",
            lambda: self.client.query_points(
                self.collection,
                query=query,
                limit=k,
                query_filter=flt,
                with_payload=True,
                search_params=client_search_params(self.quantization),
            ),
        )
        return [to_hit(p.id, p.score, p.payload or {}) for p in result.points]

    def search_sparse(self, text: str, k: int, filter: Any = None) -> list[Hit]:
        query = _sparse_vector(*self.query_weights(text))
        result = self._read(
            "searching",
            lambda: self.client.query_points(
                self.collection,
                query=query,
                using=SPARSE_VECTOR_NAME,
                limit=k,
                query_filter=to_qdrant_filter(filter, CLIENT_FILTERS),
                with_payload=True,
            ),
        )
        return [to_hit(p.id, p.score, p.payload or {}) for p in result.points]

    def search_hybrid(
        self,
        vector: np.ndarray,
        text: str,
        k: int,
        filter: Any = None,
        weights: tuple[float, float] | None = None,
    ) -> list[Hit]:
        flt, limit = to_qdrant_filter(filter, CLIENT_FILTERS), arm_limit(k)
        sparse = _sparse_vector(*self.query_weights(text))
        prefetch = [
            models.Prefetch(
                query=np.asarray(vector, dtype=np.float32).tolist(),
                filter=flt,
                limit=limit,
                params=client_search_params(self.quantization),
            ),
            models.Prefetch(query=sparse, using=SPARSE_VECTOR_NAME, filter=flt, limit=limit),
        ]
        fusion = models.RrfQuery(rrf=models.Rrf(k=RRF_CONSTANT, weights=weights_list(weights)))
        result = self._read(
            "searching",
            lambda: self.client.query_points(
                self.collection, prefetch=prefetch, query=fusion, limit=k, with_payload=True
            ),
        )
        return [to_hit(p.id, p.score, p.payload or {}) for p in result.points]

    def fetch_records(self, ids: Sequence[str]) -> list[SpanRecord]:
        points = self._read(
            "reading spans",
            lambda: self.client.retrieve(
                self.collection, ids=list(ids), with_payload=True, with_vectors=True
            ),
        )
        records = (to_record(p.id, p.vector, p.payload or {}) for p in points)
        return [r for r in records if r is not None]  # a foreign point is no span record

    def count(self) -> int:
        return int(
            self._read("counting", lambda: self.client.count(self.collection, exact=True)).count
        )

    def _doc_filter(self, doc_ids: Sequence[str]) -> models.Filter:
        return _doc_filter(doc_ids)

    def _scroll(
        self,
        flt: models.Filter | None,
        payload: list[str] | bool,
        *,
        vectors: bool = False,
        page: int = SCROLL_PAGE,
    ) -> Iterator[Any]:
        offset = None
        while True:
            points, offset = self._read(
                "scrolling",
                partial(
                    self.client.scroll,
                    self.collection,
                    scroll_filter=flt,
                    limit=page,
                    offset=offset,
                    with_payload=payload,
                    with_vectors=vectors,
                ),
            )
            yield from points
            if offset is None:
                return

    # -- writes --------------------------------------------------------------------------------
    def upsert(self, records: Sequence[SpanRecord]) -> None:
        points = [
            models.PointStruct(
                id=r.id,
                payload=to_payload(r),
                vector=dense_and_sparse(
                    r.vector.tolist(), self.document_weights(r), _sparse_vector
                ),
            )
            for r in records
        ]
        self._write(
            f"writing {len(points)} spans to {self.collection!r}",
            lambda: self.client.upsert(self.collection, points=points, wait=True),
        )

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        selector = models.Filter(
            must=[_match("doc_id", doc_id)], must_not=[_match("doc_hash", keep_hash)]
        )
        self._delete(selector, f"deleting stale spans of {doc_id!r}")

    def delete_document_chunk(self, doc_ids: Sequence[str]) -> None:
        self._delete(_doc_filter(doc_ids), f"deleting {len(doc_ids)} documents")

    def delete_records(self, ids: Sequence[str]) -> None:
        self._write(
            f"deleting {len(ids)} spans",
            lambda: self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=list(ids)), wait=True
            ),
        )

    def _delete(self, selector: models.Filter, what: str) -> None:
        self._write(
            what,
            lambda: self.client.delete(
                self.collection, points_selector=models.FilterSelector(filter=selector), wait=True
            ),
        )

    # -- errors --------------------------------------------------------------------------------
    def is_transient(self, exc: BaseException) -> bool:
        """Connection failures and 5xx answers are worth retrying; 4xx answers are not."""
        if isinstance(exc, UnexpectedResponse):
            return exc.status_code is not None and exc.status_code >= 500
        return isinstance(exc, (ResponseHandlingException, ConnectionError, TimeoutError))

    def translate_error(self, what: str, exc: BaseException) -> StoreError | None:
        if not self.is_server and disk_problem(exc) is not None:  # local mode: files, sqlite
            folder = Path(getattr(self.client._client, "location", LOCAL_PATH))
            return folder_error(exc, folder, store=_LOCAL_STORE, spec="qdrant-local:PATH")
        if isinstance(exc, UnexpectedResponse):
            return StoreError(
                f"{what} failed: Qdrant answered HTTP {exc.status_code} ({exc.reason_phrase})"
            )
        return None


def _sparse_vector(indices: list[int], values: list[float]) -> models.SparseVector:
    return models.SparseVector(indices=indices, values=values)


def _connect(
    path: str | Path | None, url: str | None, api_key: str | None, grpc: bool, timeout: int
) -> QdrantClient:
    if url is None:
        folder = Path(path or LOCAL_PATH)
        if any(folder.glob(f"*/{RECORD_FILE}")):
            raise StoreError(
                f"{folder} holds an embedded Qdrant Edge store, not a local-mode one; open it "
                f"as --store qdrant:{folder}"
            )
        prepare_store_folder(folder, store=_LOCAL_STORE, spec="qdrant-local:PATH")
        meta = folder / "meta.json"
        new = not meta.exists()
        try:
            return QdrantClient(path=str(folder))
        except RuntimeError as exc:  # folder locked by another client
            raise StoreUnavailableError(
                f"the embedded Qdrant store in {folder} is in use by another process: {exc}. "
                "Wait for it to finish, or use a Qdrant server (--store qdrant:http://...)"
            ) from None
        except OSError as exc:  # it writes meta.json at once
            if new and meta.exists() and meta.stat().st_size == 0:
                meta.unlink()  # left empty by the failed write: the next run starts clean
            raise folder_error(exc, folder, store=_LOCAL_STORE, spec="qdrant-local:PATH") from None
        except ValueError as exc:  # meta.json is not JSON
            raise StoreDamagedError(
                f"{folder / 'meta.json'} is damaged ({exc}); if it is empty, a first opening "
                "failed while writing it (a full disk?): remove it and run the same command "
                "again, else restore it from a backup"
            ) from None
    key = api_key if api_key is not None else os.environ.get("QDRANT_API_KEY")
    client = QdrantClient(
        url=url, api_key=key, prefer_grpc=grpc, timeout=timeout, check_compatibility=False
    )
    try:
        client.get_collections()
    except UnexpectedResponse as exc:
        raise StoreUnavailableError(
            f"Qdrant at {url} refused the request (HTTP {exc.status_code}); check the API key "
            "in QDRANT_API_KEY"
        ) from None
    except Exception as exc:
        raise StoreUnavailableError(
            f"cannot reach Qdrant at {url}: {type(exc).__name__}; check the URL and that the "
            "server is running"
        ) from None
    return client


def _quantization_name(config: Any) -> str | None:
    if isinstance(config, models.ScalarQuantization):
        return "scalar"
    return "binary" if isinstance(config, models.BinaryQuantization) else None


def _is_local(client: QdrantClient) -> bool:
    return type(client._client).__name__ == "QdrantLocal"


def _match(key: str, value: Any) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _doc_filter(doc_ids: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(doc_ids)))]
    )


CLIENT_FILTERS = FilterClasses(
    filter=models.Filter,
    match_value=lambda key, value, _: models.FieldCondition(
        key=key, match=models.MatchValue(value=value)
    ),
    match_substring=lambda key, text: models.FieldCondition(
        key=key, match=models.MatchSubstring(substring=text)
    ),
    range=lambda key, **bounds: models.FieldCondition(key=key, range=models.Range(**bounds)),
    is_empty=lambda key: models.IsEmptyCondition(is_empty=models.PayloadField(key=key)),
    native=models.Filter,
    store="Qdrant",
)
"""How qdrant-client spells a harrier filter (``filter=`` may also be a ``models.Filter``)."""
