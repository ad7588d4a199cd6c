"""``Index``: an embedder and a vector store together, for ingestion and search."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harrier._deprecation import renamed
from harrier._embedder import Embedder
from harrier._errors import ConfigurationError
from harrier._ingest import ingest
from harrier._records import Hit
from harrier._remote import RemoteEmbedder
from harrier._report import IngestReport
from harrier._store import VectorStore

DEFAULT_K = 5
"""How many hits every search entry point returns unless told (Index, CLI, retrievers)."""


class Index:
    """Ingest documents into ``store`` and search it, with one embedder for both sides.

    Queries get the query prompt (``query_instruction`` or ``prompt_name``, default the model's
    retrieval prompt); stored spans never do. ``instruction`` is the deprecated spelling of
    ``query_instruction``.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder | RemoteEmbedder,
        *,
        query_instruction: str | None = None,
        prompt_name: str | None = None,
        instruction: str | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.query_instruction = renamed("instruction", instruction, "query_instruction",
                                         query_instruction)
        self.prompt_name = prompt_name
        self._checked = False  # the collection was found made by this model and dimension
        embedder.query_prompt(self.query_instruction, prompt_name)  # fail now on a bad name

    def ingest(
        self,
        source: str | Path | Iterable[Any],
        *,
        max_tokens: int | None = None,
        overlap_tokens: int = 0,
        prune: bool = False,
        show_progress: bool = False,
        **options: Any,
    ) -> IngestReport:
        """See :func:`harrier.ingest` (``options``: its folder, conversion and skip-log
        arguments)."""
        report = ingest(source, self.store, self.embedder, max_tokens=max_tokens,
                        overlap_tokens=overlap_tokens, prune=prune, show_progress=show_progress,
                        **options)
        self._checked = True
        return report

    def search(self, query: str, *, k: int = DEFAULT_K, filter: Any = None) -> list[Hit]:
        """The ``k`` spans nearest to ``query`` (embedded with the query instruction).

        The collection is checked (exists, same model and dimension) on the first search only.
        """
        if k < 1:
            raise ConfigurationError(f"k={k} must be at least 1")
        if not self._checked:
            self.store.ensure_collection(
                self.embedder.identity, self.embedder.dimension, create=False
            )
            self._checked = True
        vector = self.embedder.embed_queries(
            [query], instruction=self.query_instruction, prompt_name=self.prompt_name
        )[0]
        return self.store.search_vector(vector, k, filter)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
