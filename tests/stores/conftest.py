"""Store fixtures: every pipeline test runs on each embedded store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harrier

StoreFactory = Callable[[str], harrier.VectorStore]


def _qdrant(root: Path) -> StoreFactory:
    from harrier_qdrant import QdrantStore

    return lambda collection: QdrantStore(collection, path=root / "qdrant")


def _qdrant_local(root: Path) -> StoreFactory:
    from harrier_qdrant import QdrantStore

    return lambda collection: QdrantStore(collection, path=root / "local", local_mode=True)


def _milvus(root: Path) -> StoreFactory:
    from harrier_milvus import MilvusStore

    return lambda collection: MilvusStore(collection, path=root / "milvus.db")


STORE_KINDS = {"milvus": _milvus, "qdrant": _qdrant, "qdrant-local": _qdrant_local}


@pytest.fixture(params=sorted(STORE_KINDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens a collection on a fresh embedded store; every store opened is closed after."""
    factory = STORE_KINDS[request.param](tmp_path)
    opened: list[harrier.VectorStore] = []

    def open_collection(collection: str = "docs") -> harrier.VectorStore:
        for store in opened:  # embedded stores allow one client per folder
            store.close()
        opened.clear()
        opened.append(factory(collection))
        return opened[0]

    yield open_collection
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def qwen_engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")
