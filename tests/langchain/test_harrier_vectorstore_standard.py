"""LangChain's standard vector-store suite on ``HarrierVectorStore`` over each embedded store.

The suite embeds with its own ``DeterministicFakeEmbedding`` (dimension 6), so each collection
records that embedding's name, not a Harrier model; every test gets a fresh, empty store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_harrier import HarrierVectorStore

SPECS = {"qdrant": "qdrant:{}", "qdrant-local": "qdrant-local:{}", "milvus": "milvus:{}/m.db"}


class TestHarrierVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture(params=sorted(SPECS))
    def vectorstore(  # type: ignore[override]
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[HarrierVectorStore]:
        store = HarrierVectorStore(
            self.get_embeddings(), store=SPECS[request.param].format(tmp_path / "store")
        )
        yield store
        store.close()
