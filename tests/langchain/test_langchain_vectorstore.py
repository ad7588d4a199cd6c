"""End to end with LangChain's own ``InMemoryVectorStore``: split, embed, retrieve.

Tiny random models carry no meaning, so the expected ranking is computed independently with the
engine (``Embedder.embed_queries`` against ``Embedder.embed_documents``), and one document is
built to be the certain best match: the query prompt followed by the query, which the model
sees exactly as it sees the query itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

import harrier
from langchain_harrier import HarrierEmbeddings, HarrierTextSplitter

SOURCES = {
    "fox.txt": "The quick brown fox jumps over the lazy dog. Retrieval augmented generation "
    "needs good embeddings. Vector stores keep one vector per chunk of text.",
    "cities.txt": "Paris is the capital and most populous city of France. Berlin is the "
    "capital of Germany. 東京は日本の首都です。서울은 한국의 수도입니다.",
    "ml.txt": "机器学习是人工智能的一个分支。向量数据库存储嵌入。Der schnelle braune Fuchs "
    "springt über den faulen Hund. El zorro marrón rápido salta sobre el perro perezoso.",
}
QUERY = "capital of France"


@pytest.fixture
def embeddings(model_path: Path) -> HarrierEmbeddings:
    return HarrierEmbeddings(model=model_path, device="cpu")


@pytest.fixture
def chunks(embeddings: HarrierEmbeddings) -> list[Document]:
    splitter = HarrierTextSplitter(embeddings, max_tokens=20, add_start_index=True)
    documents = [Document(text, metadata={"source": name}) for name, text in SOURCES.items()]
    result = splitter.split_documents(documents)
    assert len(result) > len(SOURCES)
    assert len({c.page_content for c in result}) == len(result)  # no ties in the ranking
    return result


def test_ranking_equals_the_engine_ranking(model_path, embeddings, chunks):
    store = InMemoryVectorStore(embedding=embeddings)
    store.add_documents(chunks)
    found = store.similarity_search_with_score(QUERY, k=len(chunks))

    engine = harrier.Embedder.from_pretrained(model_path, device="cpu")
    scores = (
        engine.embed_documents([c.page_content for c in chunks]) @ engine.embed_queries([QUERY])[0]
    )
    order = np.argsort(-scores)
    assert [doc.page_content for doc, _ in found] == [chunks[i].page_content for i in order]
    assert [doc.metadata for doc, _ in found] == [chunks[i].metadata for i in order]
    np.testing.assert_allclose([score for _, score in found], scores[order], atol=1e-5)
    for doc, _ in found:  # metadata survives the store, start indices are exact
        start = doc.metadata["start_index"]
        assert SOURCES[doc.metadata["source"]][start:].startswith(doc.page_content)


async def test_prompted_copy_of_the_query_is_the_best_match(embeddings, chunks):
    store = InMemoryVectorStore(embedding=embeddings)
    store.add_documents(chunks)
    prompted = embeddings.query_prompt + QUERY
    await store.aadd_texts([QUERY, prompted], metadatas=[{"kind": "plain"}, {"kind": "prompted"}])

    found = await store.asimilarity_search_with_score(QUERY, k=len(chunks) + 2)
    best, best_score = found[0]
    assert best.page_content == prompted  # the query got the prompt, the document did not
    assert best_score == pytest.approx(1.0, abs=1e-5)
    plain_score = next(score for doc, score in found if doc.metadata.get("kind") == "plain")
    assert plain_score < 0.999  # without its prompt the same words are another vector

    retriever = store.as_retriever(search_kwargs={"k": 1})
    assert [d.page_content for d in retriever.invoke(QUERY)] == [prompted]
    assert [d.page_content for d in await retriever.ainvoke(QUERY)] == [prompted]
