"""LangChain and LlamaIndex retrievers over every store, against the index's own search."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeRelationship, QueryBundle

import harrier
from harrier import SourceDocument
from langchain_harrier import HarrierRetriever as LangChainRetriever
from llama_index.embeddings.harrier import HarrierRetriever as LlamaIndexRetriever

TEXTS = {
    f"doc-{i}": f"{topic} is described in this note number {i}. " * 3
    for i, topic in enumerate(["bread", "tides", "chess", "rivers", "bees", "tea"])
}


@pytest.fixture
def index(open_store, qwen_engine):
    idx = harrier.Index(open_store(), qwen_engine, query_instruction="Find the note on the topic")
    idx.ingest([SourceDocument(k, v, {"topic": v.split()[0]}) for k, v in TEXTS.items()])
    return idx


def test_langchain_retriever_returns_the_index_hits(index):
    expected = index.search("tides", k=3)
    docs = LangChainRetriever(index=index, k=3).invoke("tides")
    assert all(isinstance(d, Document) for d in docs)
    assert [d.page_content for d in docs] == [h.text for h in expected]
    assert [d.id for d in docs] == [h.id for h in expected]
    first = docs[0].metadata
    assert (first["doc_id"], first["start"], first["end"]) == (
        expected[0].doc_id,
        expected[0].start,
        expected[0].end,
    )
    assert TEXTS[first["doc_id"]][first["start"] : first["end"]] == docs[0].page_content
    assert len(LangChainRetriever(index=index, k=3).invoke("tides", k=1)) == 1
    filtered = LangChainRetriever(index=index, k=5, filter={"topic": "chess"}).invoke("x")
    assert [d.metadata["doc_id"] for d in filtered] == ["doc-2"]


async def test_langchain_retriever_async(index):
    docs = await LangChainRetriever(index=index, k=2).ainvoke("bees")
    assert [d.page_content for d in docs] == [h.text for h in index.search("bees", k=2)]


def test_llamaindex_retriever_returns_the_index_hits(index):
    expected = index.search("chess", k=3)
    nodes = LlamaIndexRetriever(index, k=3).retrieve(QueryBundle("chess"))
    assert [n.node.get_content() for n in nodes] == [h.text for h in expected]
    assert [n.score for n in nodes] == pytest.approx([h.score for h in expected])
    node = nodes[0].node
    assert (node.start_char_idx, node.end_char_idx) == (expected[0].start, expected[0].end)
    assert node.relationships[NodeRelationship.SOURCE].node_id == expected[0].doc_id
    assert node.metadata["topic"] == expected[0].metadata["topic"]
    with pytest.raises(ValueError):
        LlamaIndexRetriever(index, k=0)
