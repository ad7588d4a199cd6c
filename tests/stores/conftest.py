"""Store fixtures: every pipeline test runs on each embedded store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harrier

StoreFactory = Callable[[str], harrier.VectorStore]


def qdrant_edge(collection: str, folder: Path) -> harrier.VectorStore:
    from harrier_qdrant import QdrantEdgeStore

    return QdrantEdgeStore(collection, path=folder / "qdrant")


def qdrant_local(collection: str, folder: Path) -> harrier.VectorStore:
    from harrier_qdrant import QdrantClientStore

    return QdrantClientStore(collection, path=folder / "local")


def milvus_lite(collection: str, folder: Path) -> harrier.VectorStore:
    from harrier_milvus import MilvusStore

    return MilvusStore(collection, path=folder / "milvus.db")


STORE_KINDS = {"milvus": milvus_lite, "qdrant": qdrant_edge, "qdrant-local": qdrant_local}
"""``(collection, folder) -> store`` per embedded store kind (StoreContract's store_factory)."""


@pytest.fixture(params=sorted(STORE_KINDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens a collection on a fresh embedded store; every store opened is closed after."""
    factory = STORE_KINDS[request.param]
    opened: list[harrier.VectorStore] = []

    def open_collection(collection: str = "docs") -> harrier.VectorStore:
        for store in opened:  # embedded stores allow one client per folder
            store.close()
        opened.clear()
        opened.append(factory(collection, tmp_path))
        return opened[0]

    yield open_collection
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def qwen_engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")
