"""``HarrierVectorStore`` with a Harrier model on every embedded store, checked against harrier
itself: ``Index.search`` for the same query, ``harrier.ingest`` for splits, the engine's own
vectors for maximal marginal relevance."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import harrier
from harrier.framework_stores import is_whole
from harrier.stores import AnyOf, Condition
from langchain_harrier import HarrierEmbeddings, HarrierVectorStore

SPECS = {"qdrant": "qdrant:{}", "qdrant-local": "qdrant-local:{}", "milvus": "milvus:{}/m.db"}
TEXTS = [
    "Paris is the capital and most populous city of France.",
    "Berlin is the capital of Germany.",
    "The quick brown fox jumps over the lazy dog.",
    "Vector stores keep one vector per chunk of text.",
    "机器学习是人工智能的一个分支。",
    "Retrieval augmented generation needs good embeddings.",
]
LONG = " ".join(f"Sentence {i} tells about topic {i % 7} in some detail." for i in range(40))
QUERY = "capital of France"


@pytest.fixture(scope="module")
def engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


@pytest.fixture(params=sorted(SPECS))
def open_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A store spec in a fresh folder per name (embedded stores: one client per folder)."""
    yield lambda name: SPECS[request.param].format(tmp_path / name)


@pytest.fixture
def vector_store(open_spec, engine) -> Iterator[HarrierVectorStore]:
    store = HarrierVectorStore(HarrierEmbeddings(embedder=engine), store=open_spec("a"))
    yield store
    store.close()


def _ids_and_texts(pairs):
    return [(doc.id, doc.page_content) for doc, _ in pairs]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_search_equals_index_search(vector_store, engine, mode):
    vector_store.add_texts(TEXTS, [{"n": i} for i in range(len(TEXTS))], ids=list("abcdef"))
    found = vector_store.similarity_search_with_score(QUERY, k=4, mode=mode)
    hits = harrier.Index(vector_store.store, engine).search(QUERY, k=4, mode=mode)
    assert [(d.id, d.page_content, d.metadata) for d, _ in found] == [
        (h.doc_id, h.text, h.metadata) for h in hits
    ]
    np.testing.assert_allclose([s for _, s in found], [h.score for h in hits], rtol=1e-6)


def test_dense_scores_are_the_engines_cosines(vector_store, engine):
    vector_store.add_texts(TEXTS, ids=list("abcdef"))
    found = vector_store.similarity_search_with_score(QUERY, k=len(TEXTS))
    expected = engine.embed_documents(TEXTS) @ engine.embed_queries([QUERY])[0]
    order = np.argsort(-expected)
    assert [d.id for d, _ in found] == ["abcdef"[i] for i in order]
    np.testing.assert_allclose([s for _, s in found], expected[order], atol=1e-5)
    by_vector = vector_store.similarity_search_by_vector(engine.embed_queries([QUERY])[0].tolist())
    assert [d.id for d in by_vector] == [d.id for d, _ in found][: len(by_vector)]


def test_split_writes_what_harrier_ingest_writes(open_spec, engine):
    ours = HarrierVectorStore(
        HarrierEmbeddings(embedder=engine), store=open_spec("a"), split=True, max_tokens=24
    )
    ours.add_texts([LONG, TEXTS[0]], [{"src": "long"}, {"src": "short"}], ids=["long", "short"])
    theirs = harrier.Index(harrier.framework_stores.open_collection(open_spec("b"), "docs"), engine)
    theirs.ingest(
        [
            harrier.SourceDocument("long", LONG, {"src": "long"}),
            harrier.SourceDocument("short", TEXTS[0], {"src": "short"}),
        ],
        max_tokens=24,
    )

    def fields(store):
        return sorted(
            (r.id, r.doc_id, r.span_index, r.span_count, r.start, r.end, r.doc_hash, r.text)
            for page in store.iter_records()
            for r in page
        )

    assert fields(ours.store) == fields(theirs.store)
    assert len(fields(ours.store)) > 2
    spans = ours.get_by_ids(["long"])
    assert [d.metadata["span_index"] for d in spans] == list(range(len(spans)))
    for doc in spans:  # offsets are exact, and every span carries the document id
        assert doc.id == doc.metadata["doc_id"] == "long"
        assert LONG[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
    theirs.close()
    ours.close()


def test_reads_spans_written_by_harrier_ingest(open_spec, engine):
    index = harrier.Index(harrier.framework_stores.open_collection(open_spec("a"), "docs"), engine)
    index.ingest([harrier.SourceDocument("guide", LONG, {"lang": "en"})], max_tokens=24)
    store = HarrierVectorStore(index=index)
    found = store.similarity_search("topic 3", k=3)
    assert found and all(d.id == "guide" and d.metadata["lang"] == "en" for d in found)
    for doc in found:
        assert LONG[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
    assert {d.metadata["doc_id"] for d in found} == {"guide"}
    store.delete(["guide"])
    assert store.get_by_ids(["guide"]) == [] and index.store.count() == 0
    index.close()


def test_replacing_a_split_text_by_a_whole_one_leaves_no_span(vector_store):
    vector_store.max_tokens = 24
    vector_store.add_texts([LONG], ids=["doc"], split=True)
    assert vector_store.store.count() > 1
    vector_store.add_texts(["short now"], [{"v": 2}], ids=["doc"])
    assert vector_store.get_by_ids(["doc"]) == [Document("short now", metadata={"v": 2}, id="doc")]
    assert vector_store.store.count() == 1


def test_readding_an_unchanged_text_embeds_nothing(vector_store, monkeypatch):
    vector_store.add_texts(TEXTS, ids=list("abcdef"))
    calls = []
    engine = vector_store.embeddings.embedder
    original = engine.embed_documents
    monkeypatch.setattr(engine, "embed_documents", lambda t: calls.append(t) or original(t))
    vector_store.add_texts([*TEXTS[:2], "changed"], ids=list("abc"))
    assert calls == [["changed"]]
    assert vector_store.get_by_ids(["c"])[0].page_content == "changed"


def test_mmr_runs_on_the_stored_vectors(vector_store, engine):
    vector_store.add_texts(TEXTS, ids=list("abcdef"))
    query = engine.embed_queries([QUERY])[0]
    found = vector_store.max_marginal_relevance_search(QUERY, k=3, fetch_k=5, lambda_mult=0.3)
    vectors = engine.embed_documents(TEXTS)
    nearest = np.argsort(-(vectors @ query))[:5]
    chosen = maximal_marginal_relevance(query, vectors[nearest].tolist(), lambda_mult=0.3, k=3)
    assert [d.id for d in found] == ["abcdef"[nearest[i]] for i in chosen]


def test_retrievers_of_every_search_type(vector_store):
    vector_store.add_texts(TEXTS, [{"n": i} for i in range(len(TEXTS))], ids=list("abcdef"))
    top = vector_store.similarity_search_with_score(QUERY, k=6)
    similarity = vector_store.as_retriever(search_kwargs={"k": 2}).invoke(QUERY)
    assert [d.id for d in similarity] == [d.id for d, _ in top[:2]]
    mmr = vector_store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 6})
    assert len(mmr.invoke(QUERY)) == 2
    middle = (top[1][1] + top[2][1]) / 2  # between the second and the third cosine
    threshold = (1 + middle) / 2  # as a relevance in [0, 1]
    above = vector_store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"k": 6, "score_threshold": threshold},
    ).invoke(QUERY)
    assert [d.id for d in above] == [d.id for d, _ in top[:2]]
    hybrid = vector_store.as_retriever(search_kwargs={"k": 2, "mode": "hybrid"}).invoke(QUERY)
    assert len(hybrid) == 2


def test_a_filter_restricts_every_search(vector_store):
    vector_store.add_texts(TEXTS, [{"n": i % 2} for i in range(len(TEXTS))], ids=list("abcdef"))
    for mode in ("dense", "sparse", "hybrid"):
        found = vector_store.similarity_search(QUERY, k=6, filter={"n": 1}, mode=mode)
        assert found and {d.id for d in found} <= {"b", "d", "f"}
    mmr = vector_store.max_marginal_relevance_search(QUERY, k=2, filter={"n": 0})
    assert {d.id for d in mmr} <= {"a", "c", "e"}
    either = AnyOf((Condition("n", "==", 0), Condition("n", "<", 0)))
    found = vector_store.similarity_search(QUERY, k=6, filter=either)
    assert sorted(d.id for d in found) == ["a", "c", "e"]


async def test_async_methods_leave_the_event_loop_running(vector_store, monkeypatch):
    """The store's search waits for an event that only the event loop sets: a search that
    blocked the loop would time out instead."""
    ids = await vector_store.aadd_texts(TEXTS * 20, ids=[str(i) for i in range(120)])
    release = threading.Event()
    search_vector = vector_store.store.search_vector

    def gated(*args, **kwargs):
        assert release.wait(timeout=60), "the event loop was blocked"
        return search_vector(*args, **kwargs)

    monkeypatch.setattr(vector_store.store, "search_vector", gated)
    pending = asyncio.ensure_future(vector_store.asimilarity_search(QUERY, k=2))
    await asyncio.sleep(0.01)  # the search starts and waits in its thread
    release.set()
    assert len(await pending) == 2
    await vector_store.adelete(ids[:60])
    rest = await vector_store.aget_by_ids(ids[58:62])
    assert [d.id for d in rest] == ["60", "61"]


def test_harrier_search_reads_points_added_through_langchain(vector_store, engine):
    vector_store.add_texts(TEXTS, [{"n": i} for i in range(len(TEXTS))], ids=list("abcdef"))
    hits = harrier.Index(vector_store.store, engine).search(QUERY, k=3)
    assert len(hits) == 3 and all(is_whole(hit) for hit in hits)


def test_another_embedding_records_its_name_and_dimension(open_spec):
    store = HarrierVectorStore(DeterministicFakeEmbedding(size=8), store=open_spec("a"))
    store.add_texts(["one"], ids=["1"])
    model, dimension = store.store.collection_model()
    assert (model.name, model.fingerprint, dimension) == ("DeterministicFakeEmbedding", None, 8)
    with pytest.raises(harrier.ConfigurationError, match="Harrier embedding"):
        store.add_texts(["two"], split=True)
    store.close()
    other = HarrierVectorStore(DeterministicFakeEmbedding(size=4), store=open_spec("a"))
    with pytest.raises(harrier.CollectionMismatchError):
        other.add_texts(["three"])
    other.close()


def test_bad_arguments_are_refused(vector_store, open_spec):
    with pytest.raises(harrier.ConfigurationError, match="unknown search mode"):
        HarrierVectorStore(DeterministicFakeEmbedding(size=4), store=open_spec("b"), mode="x")
    with pytest.raises(harrier.ConfigurationError, match="unknown options"):
        vector_store.similarity_search(QUERY, k=2, fliter={"n": 1})
    with pytest.raises(harrier.ConfigurationError, match="one of each"):
        vector_store.add_texts(["a", "b"], ids=["1"])
    with pytest.raises(harrier.ConfigurationError, match="more than once"):
        vector_store.add_texts(["a", "b"], ids=["1", "1"])
    with pytest.raises(harrier.ConfigurationError, match="pass the ids"):
        vector_store.delete()


def test_from_texts_and_from_documents(open_spec, engine):
    embeddings = HarrierEmbeddings(embedder=engine)
    store = HarrierVectorStore.from_texts(
        TEXTS[:2], embeddings, ids=["p", "b"], store=open_spec("a")
    )
    assert [d.id for d in store.similarity_search(QUERY, k=1)] == ["p"]
    store.close()
    docs = [Document(TEXTS[2], id="fox", metadata={"k": 1})]
    store = HarrierVectorStore.from_documents(docs, embeddings, store=open_spec("b"))
    assert store.get_by_ids(["fox"]) == docs
    store.close()
