"""End to end: IngestionPipeline(parser, embedding) feeding a VectorStoreIndex, no network.

Random tiny models carry no meaning, so the expected ranking is computed independently from
the engine's own query and document embeddings, and one document is the query's prompted text
itself: embedded as a document it must equal the query embedding (score 1), so it must win.
"""

from __future__ import annotations

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import Document, MetadataMode

from llama_index.embeddings.harrier import HarrierEmbedding, HarrierNodeParser

QUERY = "what is the capital of France?"
TEXTS = [
    "Paris is the capital and most populous city of France. Berlin is the capital of Germany. " * 3,
    "Der schnelle braune Fuchs springt über den faulen Hund. Ähnliche Sätze finden. " * 3,
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。今天天气很好。" * 2,
    "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts)\n" * 3,
]


def test_pipeline_feeds_an_index_whose_retriever_ranks_like_the_engine(model_path):
    embedding = HarrierEmbedding(model_name=str(model_path), device="cpu")
    engine = embedding.embedder
    target = engine.query_prompt() + QUERY  # embedded as a document == the query embedding
    documents = [Document(text=text, doc_id=f"doc-{i}") for i, text in enumerate(TEXTS)]
    documents.append(Document(text=target, doc_id="target"))

    pipeline = IngestionPipeline(
        transformations=[HarrierNodeParser(embedding, max_tokens=48), embedding]
    )
    nodes = pipeline.run(documents=documents)
    assert len(nodes) > len(documents)  # the long documents were split
    contents = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    doc_vectors = engine.embed_documents(contents)
    np.testing.assert_allclose(np.array([n.embedding for n in nodes]), doc_vectors, atol=1e-5)
    [target_node] = [n for n in nodes if n.ref_doc_id == "target"]
    assert target_node.text == target

    index = VectorStoreIndex(nodes, embed_model=embedding)
    results = index.as_retriever(similarity_top_k=4).retrieve(QUERY)

    scores = doc_vectors @ engine.embed_queries([QUERY])[0]
    expected = np.argsort(-scores)[:4]
    assert [r.node.node_id for r in results] == [nodes[i].node_id for i in expected]
    np.testing.assert_allclose([r.score for r in results], scores[expected], atol=1e-5)
    assert results[0].node.node_id == target_node.node_id
    assert abs(results[0].score - 1.0) < 1e-4


async def test_async_pipeline_gives_the_same_embeddings(qwen_embedding):
    documents = [Document(text=text, doc_id=f"doc-{i}") for i, text in enumerate(TEXTS)]

    def id_func(i: int, node) -> str:  # type: ignore[no-untyped-def]
        return f"{node.node_id}-{i}"

    parser = HarrierNodeParser(qwen_embedding, max_tokens=48, id_func=id_func)
    sync = IngestionPipeline(transformations=[parser, qwen_embedding]).run(documents=documents)
    pipeline = IngestionPipeline(transformations=[parser, qwen_embedding])
    asynchronous = await pipeline.arun(documents=documents)
    assert [n.node_id for n in asynchronous] == [n.node_id for n in sync]
    np.testing.assert_allclose(
        [n.embedding for n in asynchronous], [n.embedding for n in sync], atol=1e-6
    )
