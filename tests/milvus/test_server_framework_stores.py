"""LangChain's standard vector-store suite, and a LlamaIndex round trip, on a real Milvus server
through the framework stores (``HarrierVectorStore`` of each framework)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from langchain_harrier import HarrierVectorStore
from llama_index.vector_stores.harrier import HarrierVectorStore as LlamaIndexVectorStore

pytestmark = pytest.mark.server


class TestHarrierVectorStoreOnMilvusServer(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, open_server_store) -> Iterator[HarrierVectorStore]:  # type: ignore[override]
        yield HarrierVectorStore(self.get_embeddings(), store=open_server_store())


def test_llamaindex_nodes_filters_and_deletes_on_a_server(open_server_store):
    vector_store = LlamaIndexVectorStore(store=open_server_store())
    nodes = [
        TextNode(text=f"note {i}", metadata={"n": i}, embedding=[1.0, float(i), 0.5])
        for i in range(6)
    ]
    vector_store.add(nodes)
    flt = MetadataFilters(filters=[MetadataFilter(key="n", operator=FilterOperator.GTE, value=3)])
    result = vector_store.query(
        VectorStoreQuery(query_embedding=[1.0, 5.0, 0.5], similarity_top_k=6, filters=flt)
    )
    assert sorted(node.metadata["n"] for node in result.nodes) == [3, 4, 5]
    vector_store.delete_nodes([nodes[5].node_id])
    assert [n.node_id for n in vector_store.get_nodes([nodes[5].node_id, nodes[4].node_id])] == [
        nodes[4].node_id
    ]
