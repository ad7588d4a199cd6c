"""Every built-in embedded store passes ``harrier.testing.StoreContract``."""

from __future__ import annotations

import pytest

import harrier
from harrier.stores import store_kinds
from harrier.testing import StoreContract
from stores.conftest import STORE_KINDS


class BuiltInStore(StoreContract):
    kind = ""

    @pytest.fixture
    def store_factory(self):
        return STORE_KINDS[self.kind]

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, qwen_engine: harrier.Embedder) -> harrier.Embedder:
        return qwen_engine


class TestQdrantEdge(BuiltInStore):
    kind = "qdrant"


class TestQdrantLocalMode(BuiltInStore):
    kind = "qdrant-local"


class TestMilvusLite(BuiltInStore):
    kind = "milvus"


def test_every_built_in_kind_runs_the_contract():
    assert {cls.kind for cls in BuiltInStore.__subclasses__()} == set(STORE_KINDS)
    assert set(STORE_KINDS) <= set(store_kinds())
