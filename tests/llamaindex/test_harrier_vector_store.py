"""``llama_index.vector_stores.harrier.HarrierVectorStore`` on every embedded store, driven by
LlamaIndex's own ``VectorStoreIndex`` and ``IngestionPipeline`` and checked against harrier
(``Index.search`` for the same query and filter) and a Python reading of the filters."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.schema import TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

import harrier
from harrier.stores import AllOf, AnyOf, Condition
from llama_index.embeddings.harrier import HarrierNodeParser
from llama_index.vector_stores.harrier import HarrierVectorStore, to_harrier_filter

SPECS = {"qdrant": "qdrant:{}", "qdrant-local": "qdrant-local:{}", "milvus": "milvus:{}/m.db"}
ROWS = [
    ("Paris is the capital and most populous city of France.", "fr", 2021, 0.5),
    ("Berlin is the capital of Germany.", "de", 2022, 1.5),
    ("The quick brown fox jumps over the lazy dog.", "en", 2023, 2.5),
    ("Vector stores keep one vector per chunk of text.", "en", 2024, 3.0),
    ("Retrieval augmented generation needs good embeddings.", "en", 2025, 4.5),
    ("Rivers of France: the Loire, the Seine and the Rhône.", "fr", 2020, 5.0),
]
QUERY = "capital of France"


@pytest.fixture(params=sorted(SPECS))
def open_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    yield lambda name: SPECS[request.param].format(tmp_path / name)


@pytest.fixture
def vector_store(open_spec, qwen_embedding) -> Iterator[HarrierVectorStore]:
    store = HarrierVectorStore(store=open_spec("a"), embed_model=qwen_embedding)
    yield store
    store.close()


def _documents() -> list[Document]:
    return [
        Document(text=text, id_=f"doc{i}", metadata={"lang": lang, "year": year, "w": w})
        for i, (text, lang, year, w) in enumerate(ROWS)
    ]


def _index(vector_store, embedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        _documents(),
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        embed_model=embedding,
    )


def test_vector_store_index_equals_index_search(vector_store, qwen_embedding, qwen_engine):
    index = _index(vector_store, qwen_embedding)
    found = index.as_retriever(similarity_top_k=4).retrieve(QUERY)
    hits = harrier.Index(vector_store.client, qwen_engine).search(QUERY, k=4, mode="dense")
    assert [(n.node.node_id, n.node.get_content()) for n in found] == [(h.id, h.text) for h in hits]
    np.testing.assert_allclose([n.score for n in found], [h.score for h in hits], rtol=1e-6)
    assert found[0].node.ref_doc_id == hits[0].doc_id
    assert found[0].node.metadata == _documents()[int(hits[0].doc_id[3:])].metadata

    response = index.as_query_engine(llm=MockLLM(), similarity_top_k=2).query(QUERY)
    assert [n.node.node_id for n in response.source_nodes] == [h.id for h in hits[:2]]
    assert str(response)  # the mock LLM answered from the retrieved context

    fresh = VectorStoreIndex.from_vector_store(vector_store, embed_model=qwen_embedding)
    assert [n.node.node_id for n in fresh.as_retriever(similarity_top_k=4).retrieve(QUERY)] == [
        h.id for h in hits
    ]


@pytest.mark.parametrize(
    ("mode", "alpha"),
    [
        (VectorStoreQueryMode.SPARSE, None),
        (VectorStoreQueryMode.HYBRID, None),
        (VectorStoreQueryMode.HYBRID, 0.8),
    ],
)
def test_sparse_and_hybrid_equal_index_search(
    vector_store, qwen_embedding, qwen_engine, mode, alpha
):
    _index(vector_store, qwen_embedding)
    query = VectorStoreQuery(
        query_embedding=qwen_embedding.get_query_embedding(QUERY),
        query_str=QUERY,
        similarity_top_k=3,
        mode=mode,
        alpha=alpha,
    )
    result = vector_store.query(query)
    weights = None if alpha is None else (alpha, 1 - alpha)
    hits = harrier.Index(vector_store.client, qwen_engine).search(
        QUERY, k=3, mode=mode.value, weights=weights
    )
    assert result.ids == [h.id for h in hits]
    np.testing.assert_allclose(result.similarities, [h.score for h in hits], rtol=1e-6)


def test_mmr_runs_on_the_stored_vectors(vector_store, qwen_embedding, qwen_engine):
    _index(vector_store, qwen_embedding)
    embedding = qwen_embedding.get_query_embedding(QUERY)
    query = VectorStoreQuery(
        query_embedding=embedding,
        similarity_top_k=2,
        mode=VectorStoreQueryMode.MMR,
        mmr_threshold=0.3,
    )
    result = vector_store.query(query)
    hits = harrier.Index(vector_store.client, qwen_engine).search(QUERY, k=6, mode="dense")
    vectors = qwen_engine.embed_documents([h.text for h in hits]).tolist()
    _, chosen = get_top_k_mmr_embeddings(
        embedding, vectors, similarity_top_k=2, embedding_ids=list(range(6)), mmr_threshold=0.3
    )
    assert result.ids == [hits[i].id for i in chosen]


def _reference(flt: MetadataFilters, metadata: dict[str, Any]) -> bool:
    """A plain Python reading of a MetadataFilters tree."""
    ops: dict[FilterOperator, Callable[[Any, Any], bool]] = {
        FilterOperator.EQ: lambda a, b: a == b,
        FilterOperator.NE: lambda a, b: a != b,
        FilterOperator.GT: lambda a, b: a > b,
        FilterOperator.GTE: lambda a, b: a >= b,
        FilterOperator.LT: lambda a, b: a < b,
        FilterOperator.LTE: lambda a, b: a <= b,
        FilterOperator.IN: lambda a, b: a in b,
        FilterOperator.NIN: lambda a, b: a not in b,
        FilterOperator.TEXT_MATCH: lambda a, b: b in a,
    }
    results = [
        _reference(f, metadata)
        if isinstance(f, MetadataFilters)
        else ops[f.operator](metadata[f.key], f.value)
        for f in flt.filters
    ]
    return all(results) if flt.condition == FilterCondition.AND else any(results)


def _one(key: str, op: FilterOperator, value: Any) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, operator=op, value=value)])


FILTERS = [
    _one("lang", FilterOperator.EQ, "en"),
    _one("lang", FilterOperator.NE, "en"),
    _one("year", FilterOperator.GT, 2022),
    _one("year", FilterOperator.GTE, 2022),
    _one("w", FilterOperator.LT, 2.5),
    _one("w", FilterOperator.LTE, 2.5),
    _one("year", FilterOperator.EQ, 2023.0),  # a float matches an equal integer
    _one("lang", FilterOperator.IN, ["de", "fr"]),
    _one("year", FilterOperator.NIN, [2020, 2021, 2025]),
    _one("lang", FilterOperator.TEXT_MATCH, "r"),
    MetadataFilters(
        filters=[
            MetadataFilter(key="lang", value="en"),
            MetadataFilter(key="year", operator=FilterOperator.LT, value=2025),
        ]
    ),
    MetadataFilters(
        filters=[
            MetadataFilter(key="lang", value="de"),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="lang", value="fr"),
                    MetadataFilter(key="w", operator=FilterOperator.GT, value=1.0),
                ]
            ),
        ],
        condition=FilterCondition.OR,
    ),
]


def test_every_operator_matches_a_python_reading_and_index_search(
    vector_store, qwen_embedding, qwen_engine
):
    _index(vector_store, qwen_embedding)
    embedding = qwen_embedding.get_query_embedding(QUERY)
    index = harrier.Index(vector_store.client, qwen_engine)
    for flt in FILTERS:
        result = vector_store.query(
            VectorStoreQuery(query_embedding=embedding, similarity_top_k=10, filters=flt)
        )
        expected = {d.id_ for d in _documents() if _reference(flt, d.metadata)}
        assert {node.ref_doc_id for node in result.nodes} == expected, flt
        hits = index.search(QUERY, k=10, mode="dense", filter=to_harrier_filter(flt))
        assert result.ids == [h.id for h in hits], flt


def test_filters_translate_to_the_harrier_description():
    assert to_harrier_filter(FILTERS[-1]) == AnyOf(
        (
            Condition("lang", "==", "de"),
            AllOf((Condition("lang", "==", "fr"), Condition("w", ">", 1.0))),
        )
    )
    assert to_harrier_filter(None) is None
    for op in (FilterOperator.ANY, FilterOperator.CONTAINS, FilterOperator.IS_EMPTY):
        with pytest.raises(harrier.ConfigurationError, match=op.value):
            to_harrier_filter(_one("lang", op, ["en"]))
    negated = MetadataFilters(
        filters=[MetadataFilter(key="lang", value="en")], condition=FilterCondition.NOT
    )
    with pytest.raises(harrier.ConfigurationError, match="'not'"):
        to_harrier_filter(negated)


def test_ingestion_pipeline_with_a_docstore_upserts(vector_store, qwen_embedding):
    docstore = SimpleDocumentStore()
    pipeline = IngestionPipeline(
        transformations=[HarrierNodeParser(qwen_embedding, max_tokens=40), qwen_embedding],
        vector_store=vector_store,
        docstore=docstore,
        docstore_strategy=DocstoreStrategy.UPSERTS_AND_DELETE,
    )
    documents = _documents()
    first = pipeline.run(documents=documents)
    count = vector_store.client.count()
    assert count == len(first) >= len(documents)

    assert pipeline.run(documents=documents) == []  # unchanged: nothing inserted
    assert vector_store.client.count() == count

    changed = Document(text="Lyon is a city in France.", id_="doc0", metadata=documents[0].metadata)
    pipeline.run(documents=[changed, *documents[1:-1]])  # doc0 changed, the last one gone
    texts = {node.get_content() for node in _all_nodes(vector_store)}
    assert "Lyon is a city in France." in texts
    assert not any("Paris" in t or "Rivers" in t for t in texts)
    doc_ids = {node.ref_doc_id for node in _all_nodes(vector_store)}
    assert doc_ids == {d.id_ for d in documents[:-1]}


def _all_nodes(vector_store: HarrierVectorStore):
    """Every stored node, read back through ``get_nodes`` by the node ids LlamaIndex wrote."""
    records = [r for page in vector_store.client.iter_records() for r in page]
    return vector_store.get_nodes([json.loads(r.metadata["_node_content"])["id_"] for r in records])


def test_reads_spans_written_by_harrier_ingest(open_spec, qwen_engine, qwen_embedding):
    store = harrier.framework_stores.open_collection(open_spec("a"), "docs")
    text = " ".join(f"Sentence {i} is about topic {i % 5}." for i in range(30))
    harrier.Index(store, qwen_engine).ingest(
        [harrier.SourceDocument("guide", text, {"lang": "en"})], max_tokens=20
    )
    vector_store = HarrierVectorStore(store=store)
    result = vector_store.query(
        VectorStoreQuery(
            query_embedding=qwen_embedding.get_query_embedding("topic 3"), similarity_top_k=3
        )
    )
    assert len(result.nodes) == 3
    for node in result.nodes:
        assert node.ref_doc_id == node.metadata["doc_id"] == "guide"
        assert text[node.start_char_idx : node.end_char_idx] == node.get_content()
        assert (node.metadata["start"], node.metadata["end"]) == (
            node.start_char_idx,
            node.end_char_idx,
        )
    vector_store.delete("guide")
    assert store.count() == 0
    vector_store.close()


def test_nodes_of_any_dimension_by_id(open_spec):
    vector_store = HarrierVectorStore(store=open_spec("a"))
    nodes = [
        TextNode(id_="plain-id", text="one", metadata={"k": 1}, embedding=[1.0, 0.0, 0.0]),
        TextNode(id_="9b2f8c4e-1d2a-4b3c-8d4e-5f6a7b8c9d0e", text="two", embedding=[0.0, 1.0, 0.0]),
    ]
    assert vector_store.add(nodes) == [n.node_id for n in nodes]
    model, dimension = vector_store.client.collection_model()
    assert (model.name, dimension) == ("llama-index", 3)
    got = vector_store.get_nodes(["9b2f8c4e-1d2a-4b3c-8d4e-5f6a7b8c9d0e", "plain-id", "absent"])
    assert [(n.node_id, n.get_content(), n.embedding) for n in got] == [
        ("9b2f8c4e-1d2a-4b3c-8d4e-5f6a7b8c9d0e", "two", [0.0, 1.0, 0.0]),
        ("plain-id", "one", [1.0, 0.0, 0.0]),
    ]
    result = vector_store.query(VectorStoreQuery(query_embedding=[1.0, 0.1, 0.0]))
    assert result.ids == ["plain-id"] and result.nodes[0].metadata == {"k": 1}
    vector_store.delete_nodes(["plain-id"])
    assert [n.node_id for n in vector_store.get_nodes(["plain-id", nodes[1].node_id])] == [
        nodes[1].node_id
    ]
    with pytest.raises(harrier.CollectionMismatchError, match="dimension"):
        vector_store.add([TextNode(text="x", embedding=[1.0, 2.0])])
    with pytest.raises(harrier.ConfigurationError, match="no embedding"):
        vector_store.add([TextNode(text="x")])
    vector_store.clear()
    assert vector_store.client.count() == 0
    vector_store.close()


async def test_async_queries_leave_the_event_loop_running(
    vector_store, qwen_embedding, monkeypatch
):
    """The store's search waits for an event that only the event loop sets: a query that
    blocked the loop would time out instead."""
    _index(vector_store, qwen_embedding)
    release = threading.Event()
    search_vector = vector_store.client.search_vector

    def gated(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(timeout=60), "the event loop was blocked"
        return search_vector(*args, **kwargs)

    monkeypatch.setattr(vector_store.client, "search_vector", gated)
    query = VectorStoreQuery(
        query_embedding=qwen_embedding.get_query_embedding(QUERY), similarity_top_k=2
    )
    pending = asyncio.ensure_future(vector_store.aquery(query))
    await asyncio.sleep(0.01)  # the query starts and waits in its thread
    release.set()
    result = await pending
    assert len(result.ids) == 2
