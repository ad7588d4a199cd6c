"""``HarrierVectorStore``: LlamaIndex's ``BasePydanticVectorStore`` over any harrier store."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

import harrier
from harrier import (
    CollectionMismatchError,
    ConfigurationError,
    Hit,
    ModelIdentity,
    SpanRecord,
    document_hash,
)
from harrier.framework_stores import (
    collection_exists,
    embedding_identity,
    open_collection,
    search,
    span_metadata,
    upsert_records,
)
from llama_index.vector_stores.harrier._filters import to_harrier_filter

NODE_NAMESPACE = uuid.UUID("9e2d4c71-0b6a-5f38-a1d7-64c0e8f35b29")
"""The UUIDv5 namespace of record ids for node ids that are not UUIDs: never change it."""

_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.SPARSE: "sparse",
    VectorStoreQueryMode.HYBRID: "hybrid",
}


def record_id(node_id: str) -> str:
    """The id a node is stored under: the node id when it is a UUID, else a UUIDv5 of it."""
    try:
        if str(uuid.UUID(node_id)) == node_id:
            return node_id
    except ValueError:
        pass
    return str(uuid.uuid5(NODE_NAMESPACE, node_id))


class HarrierVectorStore(BasePydanticVectorStore):
    """A harrier collection as a LlamaIndex vector store (``stores_text``: the nodes' text and
    metadata live in the collection).

    A node is one record: its ref document is the harrier document (``delete(ref_doc_id)``
    removes every node of it), its id the record id (see :func:`record_id`), its embedding
    the record's vector, of any dimension. Spans written by ``harrier ingest`` come back as
    ``TextNode``s with the span's exact text and offsets, the document's metadata plus
    ``doc_id``, ``span_index``, ``start`` and ``end``, and a SOURCE relation to the document.

    Queries: ``DEFAULT`` (dense, cosine), ``SPARSE`` (BM25 on ``query_str``), ``HYBRID`` (both
    fused by reciprocal rank; ``alpha`` weighs dense, ``1 - alpha`` sparse) and ``MMR`` (on
    the stored vectors); ``MetadataFilters`` become the one harrier filter description.

    Example:
        ```python
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.harrier import HarrierVectorStore

        vector_store = HarrierVectorStore(collection_name="docs", store="qdrant")
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
        ```
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str = Field(description="The harrier collection.")
    model_name: str = Field(
        description="The embedding a collection this store creates records (by name)."
    )
    mmr_prefetch_factor: float = Field(
        default=4.0, gt=1, description="MMR re-ranks this many times similarity_top_k records."
    )

    _store: harrier.VectorStore = PrivateAttr()
    _identity: ModelIdentity | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    _exists: bool = PrivateAttr(default=False)

    def __init__(
        self,
        collection_name: str | None = None,
        store: str | harrier.VectorStore = "qdrant",
        *,
        embed_model: BaseEmbedding | None = None,
        **data: Any,
    ) -> None:
        """``store``: a store spec as the command line takes it (``qdrant``, ``qdrant:PATH``,
        ``qdrant-local:PATH``, ``milvus:PATH``, a server URL) or a harrier store object.
        ``embed_model``: the embedding that makes the nodes' vectors; when given, the
        collection records its identity (a ``HarrierEmbedding``'s model, or its
        ``model_name``) and refuses vectors of another model; without it only the dimension
        is checked."""
        if isinstance(store, harrier.VectorStore) and collection_name not in (
            None,
            store.collection,
        ):
            raise ConfigurationError(
                f"collection_name {collection_name!r} differs from the store's collection "
                f"{store.collection!r}; leave collection_name out"
            )
        opened = open_collection(store, collection_name or "docs")
        identity = _identity_of(embed_model)
        data.setdefault("model_name", identity.name if identity else "llama-index")
        super().__init__(collection_name=opened.collection, **data)  # type: ignore[call-arg]
        self._store = opened
        self._identity = identity

    @classmethod
    def class_name(cls) -> str:
        return "HarrierVectorStore"

    @property
    def client(self) -> harrier.VectorStore:
        """The harrier store."""
        return self._store

    # -- writes --------------------------------------------------------------------------------
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store the nodes with their embeddings (an existing node id is overwritten)."""
        _no_options(add_kwargs)
        if not nodes:
            return []
        missing = [node.node_id for node in nodes if node.embedding is None]
        if missing:
            raise ConfigurationError(
                f"nodes {missing[:5]} have no embedding; embed them first (an IngestionPipeline "
                "with an embed_model, or VectorStoreIndex does)"
            )
        vectors = np.asarray([node.embedding for node in nodes], dtype=np.float32)
        records = _records(nodes, vectors, self.model_name)
        with self._lock:
            self._check_collection(int(vectors.shape[1]))
            upsert_records(self._store, records)
        return [node.node_id for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document ``ref_doc_id``."""
        _no_options(delete_kwargs)
        with self._lock:
            if self._collection_exists():
                self._store.delete_documents([ref_doc_id])

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id."""
        _no_options(delete_kwargs)
        ids = _node_ids_only(node_ids, filters, "delete_nodes")
        with self._lock:
            if ids and self._collection_exists():
                self._store.delete_records([record_id(i) for i in ids])

    def clear(self) -> None:
        """Delete every record of the collection."""
        with self._lock:
            if self._collection_exists():
                self._store.delete_documents(list(self._store.iter_doc_ids()))

    # -- reads ---------------------------------------------------------------------------------
    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """The stored nodes with these ids, with their embeddings, in the order of the ids."""
        ids = _node_ids_only(node_ids, filters, "get_nodes")
        with self._lock:
            if not ids or not self._collection_exists():
                return []
            records = self._store.fetch_records([record_id(i) for i in ids])
        by_id = {record.id: record for record in records}
        nodes = []
        for node_id in ids:
            record = by_id.get(record_id(node_id))
            if record is not None:
                node = _node(record)
                node.embedding = record.vector.tolist()
                nodes.append(node)
        return nodes

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The best nodes for ``query`` in its mode, with ``query.filters`` applied."""
        _no_options(kwargs)
        if query.doc_ids or query.node_ids:
            raise ConfigurationError(
                "queries restricted to doc_ids or node_ids are not supported; use MetadataFilters"
            )
        flt = to_harrier_filter(query.filters)
        k = query.similarity_top_k
        with self._lock:
            if not self._collection_exists():
                return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
            if query.mode == VectorStoreQueryMode.MMR:
                return self._mmr(query, flt)
            mode = _MODES.get(query.mode)
            if mode is None:
                raise ConfigurationError(
                    f"query mode {query.mode.value!r} is not one harrier runs; use DEFAULT, "
                    "SPARSE, HYBRID or MMR"
                )
            if mode == "hybrid":
                k = query.hybrid_top_k or k
            elif mode == "sparse":
                k = query.sparse_top_k or k
            if mode != "dense" and not query.query_str:
                raise ConfigurationError(f"{query.mode.value} queries need query_str")
            weights = None
            if mode == "hybrid" and query.alpha is not None:
                weights = (query.alpha, 1 - query.alpha)
            embedding = query.query_embedding
            hits = search(
                self._store,
                query.query_str or "",
                k=k,
                mode=mode,
                filter=flt,
                weights=weights,
                vector=None if embedding is None else (lambda: embedding),
            )
        return _result(hits, [hit.score for hit in hits])

    def _mmr(self, query: VectorStoreQuery, flt: Any) -> VectorStoreQueryResult:
        embedding = query.query_embedding
        if embedding is None:
            raise ConfigurationError("MMR queries need query_embedding")
        fetch_k = max(
            query.similarity_top_k, int(query.similarity_top_k * self.mmr_prefetch_factor)
        )
        hits = search(self._store, "", k=fetch_k, filter=flt, vector=lambda: embedding)
        vectors = {r.id: r.vector for r in self._store.fetch_records([h.id for h in hits])}
        hits = [hit for hit in hits if hit.id in vectors]
        if not hits:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        scores, chosen = get_top_k_mmr_embeddings(
            embedding,
            [vectors[hit.id].tolist() for hit in hits],
            similarity_top_k=query.similarity_top_k,
            embedding_ids=list(range(len(hits))),
            mmr_threshold=query.mmr_threshold,
        )
        return _result([hits[i] for i in chosen], scores)

    # -- async: the work runs in a thread, so the event loop keeps running ---------------------
    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)

    def close(self) -> None:
        self._store.close()

    # -- helpers -------------------------------------------------------------------------------
    def _collection_exists(self) -> bool:
        self._exists = collection_exists(self._store, self._exists)
        return self._exists

    def _check_collection(self, dimension: int) -> None:
        """Create the collection, or check it holds vectors of this dimension (and of
        ``embed_model``'s model, when one was given)."""
        if self._identity is not None:
            self._store.ensure_collection(self._identity, dimension)
        else:
            recorded = self._store.collection_model()
            if recorded is None:
                self._store.ensure_collection(embedding_identity(self.model_name), dimension)
            elif recorded[1] != dimension:
                raise CollectionMismatchError(
                    f"collection {self.collection_name!r} holds vectors of dimension "
                    f"{recorded[1]} ({recorded[0]}); refusing nodes of dimension {dimension}. "
                    "Use another collection, or the embedding that made this one."
                )
        self._exists = True


def _identity_of(embed_model: BaseEmbedding | None) -> ModelIdentity | None:
    if embed_model is None:
        return None
    engine = getattr(embed_model, "embedder", None)
    if isinstance(engine, (harrier.Embedder, harrier.RemoteEmbedder)):
        return engine.identity
    return embedding_identity(f"{type(embed_model).__name__}:{embed_model.model_name}")


def _records(nodes: Sequence[BaseNode], vectors: np.ndarray, model: str) -> list[SpanRecord]:
    """One record per node; the nodes of a document are its spans, in the order given."""
    counts: dict[str, int] = {}
    for node in nodes:
        doc_id = node.ref_doc_id or node.node_id
        counts[doc_id] = counts.get(doc_id, 0) + 1
    seen: dict[str, int] = {}
    records = []
    for node, vector in zip(nodes, vectors, strict=True):
        doc_id = node.ref_doc_id or node.node_id
        index = seen[doc_id] = seen.get(doc_id, -1) + 1
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
        start = getattr(node, "start_char_idx", None)
        end = getattr(node, "end_char_idx", None)
        records.append(
            SpanRecord(
                id=record_id(node.node_id),
                vector=vector,
                text=text,
                doc_id=doc_id,
                span_index=index,
                span_count=counts[doc_id],
                start=start or 0,
                end=end if end is not None else (start or 0) + len(text),
                token_count=0,
                doc_hash=document_hash(text, metadata, "llama-index"),
                model=model,
                metadata=metadata,
            )
        )
    return records


def _node(record: Hit | SpanRecord) -> BaseNode:
    """The node a record holds: as LlamaIndex stored it, or built from a harrier span."""
    if "_node_content" in record.metadata:
        return metadata_dict_to_node(record.metadata, text=record.text)
    return TextNode(
        id_=record.id,
        text=record.text,
        metadata=span_metadata(record),
        start_char_idx=record.start,
        end_char_idx=record.end,
        relationships=(
            {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=record.doc_id)}
            if record.doc_id
            else {}
        ),
    )


def _result(hits: Sequence[Hit], scores: Sequence[float]) -> VectorStoreQueryResult:
    nodes = [_node(hit) for hit in hits]
    return VectorStoreQueryResult(
        nodes=nodes, similarities=list(scores), ids=[node.node_id for node in nodes]
    )


def _node_ids_only(
    node_ids: list[str] | None, filters: MetadataFilters | None, what: str
) -> list[str]:
    if filters is not None:
        raise ConfigurationError(f"{what} takes node_ids; filters are not supported here")
    return list(node_ids or [])


def _no_options(kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise ConfigurationError(f"unknown options {sorted(kwargs)} for HarrierVectorStore")
