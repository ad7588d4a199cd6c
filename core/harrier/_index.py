"""``Index``: an embedder and a vector store together, for ingestion and search."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from harrier._deprecation import renamed
from harrier._engine import EmbeddingEngine
from harrier._errors import ConfigurationError, NoSparseVectorsError
from harrier._records import Hit
from harrier.framework_stores import check_query
from harrier.framework_stores import search as search_store
from harrier.ingestion._ingest import ingest
from harrier.ingestion._options import IngestOptions
from harrier.ingestion._report import IngestReport
from harrier.stores.base import VectorStore

DEFAULT_K = 5
"""How many hits every search entry point returns unless told (Index, CLI, retrievers)."""

SearchMode = Literal["hybrid", "dense", "sparse"]
MODES = ("hybrid", "dense", "sparse")


class Index:
    """Ingest documents into ``store`` and search it, with one embedder for both sides.

    Queries get the query prompt (``query_instruction`` or ``prompt_name``, default the model's
    retrieval prompt); stored spans never do. ``instruction`` is the deprecated spelling of
    ``query_instruction``. Search is hybrid (dense + BM25, fused by reciprocal rank) on
    collections with BM25 vectors, dense on the others.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: EmbeddingEngine,
        *,
        query_instruction: str | None = None,
        prompt_name: str | None = None,
        instruction: str | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.query_instruction = renamed(
            "instruction", instruction, "query_instruction", query_instruction
        )
        self.prompt_name = prompt_name
        self._has_sparse: bool | None = None  # known once the collection was checked
        embedder.query_prompt(self.query_instruction, prompt_name)  # fail now on a bad name

    def ingest(
        self,
        source: str | Path | Iterable[Any],
        options: IngestOptions | None = None,
        **changes: Any,
    ) -> IngestReport:
        """See :func:`harrier.ingest`: ``options`` with ``changes`` to its fields (checked:
        an unknown name is refused)."""
        report = ingest(source, self.store, self.embedder, IngestOptions.of(options, **changes))
        self._has_sparse = self.store.has_sparse_vectors()  # the collection was checked
        return report

    def search(
        self,
        query: str,
        *,
        k: int = DEFAULT_K,
        filter: Any = None,
        mode: str | None = None,
        weights: tuple[float, float] | None = None,
    ) -> list[Hit]:
        """The ``k`` best spans for ``query``, best first.

        ``mode``: ``"dense"`` (embedding similarity), ``"sparse"`` (BM25) or ``"hybrid"`` (both,
        fused by reciprocal rank); default :meth:`resolve_mode`. ``weights`` (dense, sparse)
        weigh the two arms of a hybrid search. ``filter`` applies to every arm.
        """
        check_query(query)
        return search_store(
            self.store,
            query,
            k=k,
            mode=self.resolve_mode(mode),
            filter=filter,
            weights=weights,
            vector=lambda: self.embedder.embed_queries(
                [query], instruction=self.query_instruction, prompt_name=self.prompt_name
            )[0],
        )

    def resolve_mode(self, mode: str | None = None) -> SearchMode:
        """The mode a search runs: ``mode`` checked, or hybrid where the collection has BM25
        vectors and dense where not. Checks the collection's model once."""
        if mode is not None and mode not in MODES:
            raise ConfigurationError(f"unknown search mode {mode!r}; use one of {MODES}")
        if self._has_sparse is None:
            self.store.ensure_collection(
                self.embedder.identity, self.embedder.dimension, create=False
            )
            self._has_sparse = self.store.has_sparse_vectors()
        if mode is None:
            return "hybrid" if self._has_sparse else "dense"
        if mode != "dense" and not self._has_sparse:
            raise NoSparseVectorsError(self.store.no_sparse_message())
        return mode  # type: ignore[return-value]

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
