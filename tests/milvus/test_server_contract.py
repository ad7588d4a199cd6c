"""The real Milvus server passes ``harrier.testing.StoreContract`` (hybrid search where the
server has BM25, Milvus >= 2.5)."""

from __future__ import annotations

import uuid

import pytest
from pymilvus import MilvusClient

from harrier.testing import StoreContract
from harrier_milvus import MilvusStore

pytestmark = pytest.mark.server


class TestMilvusServer(StoreContract):
    @pytest.fixture
    def store_factory(self, milvus_server):
        """A server has no folders: the folder's name keeps two stores' collections apart."""
        prefix, created = f"c{uuid.uuid4().hex[:10]}", set()

        def open_collection(collection, folder):
            name = f"{prefix}_{folder.name}_{collection}"
            created.add(name)
            return MilvusStore(
                name, url=milvus_server.uri, token=milvus_server.token, sparse=milvus_server.bm25
            )

        yield open_collection
        client = MilvusClient(uri=milvus_server.uri, token=milvus_server.token)
        for name in created:
            if client.has_collection(name):
                client.drop_collection(name)
        client.close()

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, qwen_engine):
        return qwen_engine
