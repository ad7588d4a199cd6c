"""LangChain's standard retriever suite on a HarrierRetriever over embedded Qdrant."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from langchain_tests.integration_tests import RetrieversIntegrationTests

import harrier
from harrier.testing import build_model
from harrier_qdrant import QdrantStore
from langchain_harrier import HarrierRetriever


@functools.cache
def _index() -> harrier.Index:
    root = Path(tempfile.mkdtemp(prefix="harrier-retriever-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    engine = harrier.Embedder.from_pretrained(build_model(root / "m", "tiny-qwen3"), device="cpu")
    index = harrier.Index(QdrantStore("standard", path=root / "q"), engine)
    atexit.register(index.close)  # runs before the folder is removed (last in, first out)
    index.ingest(
        [harrier.SourceDocument(f"d{i}", f"note {i} about example topics") for i in range(6)]
    )
    return index


class TestHarrierRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HarrierRetriever]:
        return HarrierRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": _index()}

    @property
    def retriever_query_example(self) -> str:
        return "example topics"
