"""``Index``: an embedder and a vector store together, for ingestion and search."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harrier._embedder import Embedder
from harrier._ingest import ingest
from harrier._records import Hit
from harrier._report import IngestReport
from harrier._store import VectorStore


class Index:
    """Ingest documents into ``store`` and search it, with one embedder for both sides.

    Queries get the instruction (``instruction``/``prompt_name``, default the model's retrieval
    prompt); stored spans never do.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.instruction = instruction
        self.prompt_name = prompt_name
        self._checked = False  # the collection was found made by this model and dimension
        embedder.query_prompt(instruction, prompt_name)  # fail now on a bad prompt name

    def ingest(
        self,
        source: str | Path | Iterable[Any],
        *,
        max_tokens: int | None = None,
        overlap_tokens: int = 0,
        prune: bool = False,
        show_progress: bool = False,
    ) -> IngestReport:
        """See :func:`harrier.ingest`."""
        report = ingest(source, self.store, self.embedder, max_tokens=max_tokens,
                        overlap_tokens=overlap_tokens, prune=prune, show_progress=show_progress)
        self._checked = True
        return report

    def search(self, query: str, *, k: int = 5, filter: Any = None) -> list[Hit]:
        """The ``k`` spans nearest to ``query`` (embedded with the query instruction).

        The collection is checked (exists, same model and dimension) on the first search only.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        if not self._checked:
            self.store.ensure_collection(
                self.embedder.model_name, self.embedder.dimension, create=False
            )
            self._checked = True
        vector = self.embedder.embed_queries(
            [query], instruction=self.instruction, prompt_name=self.prompt_name
        )[0]
        return self.store.search_vector(vector, k, filter)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
