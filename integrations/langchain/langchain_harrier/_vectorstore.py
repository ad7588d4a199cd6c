"""``HarrierVectorStore``: LangChain's ``VectorStore`` over any harrier store (Qdrant Edge,
qdrant-local, Qdrant and Milvus servers, Milvus Lite)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import harrier
from harrier import (
    ConfigurationError,
    Hit,
    InputError,
    ModelIdentity,
    SourceDocument,
    SpanRecord,
    span_id,
)
from harrier.framework_stores import (
    MODES,
    WholeText,
    collection_exists,
    embedding_identity,
    open_collection,
    search,
    span_metadata,
    whole_id,
    write_whole,
)
from langchain_harrier._embeddings import HarrierEmbeddings

DEFAULT_COLLECTION = "docs"


class HarrierVectorStore(VectorStore):
    """A harrier collection as a LangChain vector store.

    An id is a document id: ``add_texts`` stores each text whole under its id (a new id for a
    text without one) and returns the ids; adding an id again replaces its text (an unchanged
    text is skipped); ``delete`` and ``get_by_ids`` take the same ids. With ``split=True``
    (here or per call) each text is split into spans of at most ``max_tokens`` tokens exactly
    as ``harrier ingest`` splits a document (same span ids, offsets and hashes); this needs a
    Harrier embedding.

    Documents found come with their id and metadata as added. Spans made by harrier's splitter
    (``harrier ingest``, ``split=True``) also carry ``doc_id``, ``span_index``, ``start`` and
    ``end`` (and ``page_start``/``page_end`` where ingest recorded pages); every span of a
    document has the document's id.

    ``mode`` is ``"dense"`` (cosine similarity, the default, as LangChain expects),
    ``"sparse"`` (BM25) or ``"hybrid"`` (both fused by reciprocal rank, ``weights``: dense,
    sparse); every search method also takes ``mode`` and ``weights``. ``filter`` is a dict of
    metadata values, a ``harrier`` filter, or the store's own filter object.

    Example:
        ```python
        from langchain_harrier import HarrierVectorStore

        store = HarrierVectorStore(collection_name="docs", store="qdrant")
        store.add_texts(["Paris is the capital of France."], ids=["paris"])
        store.similarity_search("capital of France", k=1)
        ```
    """

    def __init__(
        self,
        embedding: Embeddings | None = None,
        *,
        collection_name: str | None = None,
        store: str | harrier.VectorStore = "qdrant",
        index: harrier.Index | None = None,
        mode: str = "dense",
        weights: tuple[float, float] | None = None,
        split: bool = False,
        max_tokens: int | None = None,
        overlap_tokens: int = 0,
    ) -> None:
        """``embedding``: any LangChain ``Embeddings`` (default: ``HarrierEmbeddings()``); a
        collection it creates records a Harrier model's identity, or another embedding's name.
        ``store``: a store spec as the command line takes it (``qdrant``, ``qdrant:PATH``,
        ``qdrant-local:PATH``, ``milvus:PATH``, a server URL) or a harrier store object.
        ``index``: a ``harrier.Index`` instead of ``embedding`` and ``store``."""
        if mode not in MODES:
            raise ConfigurationError(f"unknown search mode {mode!r}; use one of {MODES}")
        if index is not None:
            if embedding is not None or store != "qdrant" or collection_name is not None:
                raise ConfigurationError(
                    "pass either index or embedding/store/collection_name, not both"
                )
            embedding = HarrierEmbeddings(  # type: ignore[call-arg]  # pydantic's __init__
                embedder=index.embedder,
                query_instruction=index.query_instruction,
                prompt_name=index.prompt_name,
            )
            store = index.store
        if (
            isinstance(store, harrier.VectorStore)
            and collection_name is not None
            and collection_name != store.collection
        ):
            raise ConfigurationError(
                f"collection_name {collection_name!r} differs from the store's collection "
                f"{store.collection!r}; leave collection_name out"
            )
        self.store = open_collection(store, collection_name or DEFAULT_COLLECTION)
        self.embedding = HarrierEmbeddings() if embedding is None else embedding
        self.mode = mode
        self.weights = weights
        self.split = split
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self._lock = threading.RLock()  # async methods run these in worker threads
        self._exists = False

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    @property
    def identity(self) -> ModelIdentity:
        """What the collection records of the embedding."""
        if isinstance(self.embedding, HarrierEmbeddings):
            return self.embedding.embedder.identity
        return embedding_identity(_embedding_name(self.embedding))

    # -- writes --------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        split: bool | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store ``texts`` (whole, or split with ``split=True``) under ``ids``; their ids.

        ``batch_size`` (LangChain's indexing API passes it) is accepted and not needed:
        requests are sized by the store's own count and byte limits."""
        _no_options(kwargs)
        texts = list(texts)
        metadatas = [{} for _ in texts] if metadatas is None else list(metadatas)
        given: list[str | None] = [None] * len(texts) if ids is None else list(ids)
        if not len(texts) == len(metadatas) == len(given):
            raise ConfigurationError(
                f"got {len(texts)} texts, {len(metadatas)} metadatas and {len(given)} ids; "
                "pass one of each per text"
            )
        doc_ids = [i if i is not None else str(uuid.uuid4()) for i in given]  # None: no id
        if not texts:
            return []
        with self._lock:
            if self.split if split is None else split:
                self._add_split(texts, metadatas, doc_ids)
            else:
                items = [WholeText(*row) for row in zip(doc_ids, texts, metadatas, strict=True)]
                write_whole(self.store, items, self._embed_documents, self.identity)
            self._exists = True
        return doc_ids

    def _add_split(
        self, texts: list[str], metadatas: list[dict[str, Any]], doc_ids: list[str]
    ) -> None:
        engine = self._engine("split=True")
        documents = [
            SourceDocument(doc_id, text, metadata)
            for doc_id, text, metadata in zip(doc_ids, texts, metadatas, strict=True)
        ]
        report = harrier.ingest(
            documents,
            self.store,
            engine,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
        )
        if report.skipped:
            raise InputError(
                f"{report.skipped} texts were not stored (the others were): "
                f"{'; '.join(report.skip_reasons)}"
            )

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete every record of these ids (whole texts and spans); absent ids are ignored."""
        _no_options(kwargs)
        if ids is None:
            raise ConfigurationError("pass the ids to delete")
        with self._lock:
            if self._collection_exists():
                self.store.delete_documents(list(ids))
        return True

    # -- reads ---------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids (every span of a split one), in the order of ``ids``."""
        with self._lock:
            if not ids or not self._collection_exists():
                return []
            rows = self.store.scan_spans(list(ids), ("doc_id", "span_index"))
            candidates = [whole_id(i) for i in ids]
            candidates += [span_id(r["doc_id"], int(r["span_index"])) for r in rows]
            records = self.store.fetch_records(list(dict.fromkeys(candidates)))
        order = {doc_id: n for n, doc_id in enumerate(ids)}
        records.sort(key=lambda r: (order.get(r.doc_id, len(order)), r.span_index))
        return [_document(r) for r in records]

    def similarity_search(
        self, query: str, k: int = harrier.DEFAULT_K, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = harrier.DEFAULT_K,
        filter: Any = None,
        *,
        mode: str | None = None,
        weights: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Documents with their scores: cosine similarity (dense), BM25 (sparse) or the
        fused reciprocal-rank score (hybrid)."""
        _no_options(kwargs)
        return self._search(query, k, filter, mode, weights, lambda: self._embed_query(query))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = harrier.DEFAULT_K, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        return [
            doc
            for doc, _ in self.similarity_search_with_score_by_vector(
                embedding, k, filter, **kwargs
            )
        ]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = harrier.DEFAULT_K, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Dense search for ``embedding``, with cosine similarities."""
        _no_options(kwargs)
        return self._search("", k, filter, "dense", None, lambda: embedding)

    def _search(
        self,
        query: str,
        k: int,
        filter: Any,
        mode: str | None,
        weights: tuple[float, float] | None,
        vector: Callable[[], Any],
    ) -> list[tuple[Document, float]]:
        with self._lock:
            if not self._collection_exists():
                return []
            hits = search(
                self.store,
                query,
                k=k,
                mode=mode or self.mode,
                filter=filter,
                weights=weights if weights is not None else self.weights,
                vector=vector,
            )
        return [(_document(hit), hit.score) for hit in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = harrier.DEFAULT_K,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._embed_query(query), k, fetch_k, lambda_mult, filter, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = harrier.DEFAULT_K,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``fetch_k`` nearest records re-ranked by maximal marginal relevance on their
        stored vectors."""
        _no_options(kwargs)
        with self._lock:
            if not self._collection_exists():
                return []
            hits = search(
                self.store, "", k=max(fetch_k, k), filter=filter, vector=lambda: embedding
            )
            vectors = {r.id: r.vector for r in self.store.fetch_records([h.id for h in hits])}
        hits = [hit for hit in hits if hit.id in vectors]  # deleted meanwhile
        if not hits:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32),
            [vectors[hit.id].tolist() for hit in hits],
            lambda_mult=lambda_mult,
            k=k,
        )
        return [_document(hits[i]) for i in chosen]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Relevance in [0, 1] is ``(1 + cosine similarity) / 2`` (dense mode only)."""
        if self.mode != "dense":
            raise ConfigurationError(
                f"relevance scores need mode='dense'; {self.mode} scores are not similarities"
            )
        return _cosine_relevance

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> HarrierVectorStore:
        """A store built with ``kwargs`` (``collection_name``, ``store``, ``mode``...) holding
        ``texts``."""
        vector_store = cls(embedding, **kwargs)
        vector_store.add_texts(texts, metadatas, ids=ids)
        return vector_store

    def close(self) -> None:
        self.store.close()

    # -- helpers -------------------------------------------------------------------------------
    def _collection_exists(self) -> bool:
        self._exists = collection_exists(self.store, self._exists)
        return self._exists

    def _engine(self, what: str) -> harrier.EmbeddingEngine:
        if not isinstance(self.embedding, HarrierEmbeddings):
            raise ConfigurationError(
                f"{what} needs a Harrier embedding (HarrierEmbeddings or index=harrier.Index); "
                f"this store embeds with {_embedding_name(self.embedding)}"
            )
        return self.embedding.embedder

    def _embed_documents(self, texts: list[str]) -> np.ndarray:
        if isinstance(self.embedding, HarrierEmbeddings):
            return self.embedding.embedder.embed_documents(texts)
        return np.asarray(self.embedding.embed_documents(texts), dtype=np.float32)

    def _embed_query(self, query: str) -> list[float]:
        return self.embedding.embed_query(query)


def _document(record: Hit | SpanRecord) -> Document:
    return Document(page_content=record.text, metadata=span_metadata(record), id=record.doc_id)


def _embedding_name(embedding: Embeddings) -> str:
    """The class name, with the model it names (``model`` or ``model_name``) where it has one."""
    model = getattr(embedding, "model", None) or getattr(embedding, "model_name", None)
    name = type(embedding).__name__
    return f"{name}:{model}" if isinstance(model, str) else name


def _cosine_relevance(score: float) -> float:
    return (1.0 + score) / 2.0


def _no_options(kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise ConfigurationError(
            f"unknown options {sorted(kwargs)}; HarrierVectorStore takes mode, weights, filter "
            "and k for searches and ids and split for adds"
        )
