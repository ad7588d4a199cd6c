"""Real clients against the server: openai, langchain_openai, LlamaIndex's TEI embedding,
and harrier.RemoteEmbedder (with the adapters, span splitting and `harrier ingest`)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import harrier
from harrier.testing import serve_in_thread

DOCS = ["Paris is the capital of France.", "Берлин — столица Германии.", "東京は日本の首都です。"]
QUERIES = ["capital of France", "столица"]


def test_openai_client(server: str, engine: harrier.Embedder) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    answer = client.embeddings.create(model="tiny", input=DOCS)  # base64 on the wire
    got = np.array([row.embedding for row in answer.data], dtype=np.float32)
    np.testing.assert_allclose(got, engine.embed_documents(DOCS), atol=1e-6)
    assert answer.usage.prompt_tokens == sum(engine.count_tokens(DOCS))
    floats = client.embeddings.create(model="tiny:query", input=QUERIES[0], encoding_format="float")
    np.testing.assert_allclose(
        floats.data[0].embedding, engine.embed_queries(QUERIES[:1])[0], atol=1e-6
    )
    extra = client.embeddings.create(
        model="tiny", input=QUERIES, extra_body={"input_type": "query", "prompt_name": "sts_query"}
    )
    np.testing.assert_allclose(
        [row.embedding for row in extra.data],
        engine.embed_queries(QUERIES, prompt_name="sts_query"),
        atol=1e-6,
    )
    with pytest.raises(openai.BadRequestError, match="Matryoshka"):
        client.embeddings.create(model="tiny", input="x", dimensions=8)


def test_langchain_openai_embeddings(server: str, engine: harrier.Embedder) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    documents, queries = (
        langchain_openai.OpenAIEmbeddings(
            model=model, base_url=f"{server}/v1", api_key="unused", check_embedding_ctx_length=False
        )
        for model in ("tiny", "tiny:query")
    )
    np.testing.assert_allclose(
        documents.embed_documents(DOCS), engine.embed_documents(DOCS), atol=1e-6
    )
    np.testing.assert_allclose(
        queries.embed_query(QUERIES[0]), engine.embed_queries(QUERIES[:1])[0], atol=1e-6
    )


def test_llamaindex_tei_client(server: str, engine: harrier.Embedder) -> None:
    tei = pytest.importorskip("llama_index.embeddings.text_embeddings_inference")
    prompt = engine.query_prompt()
    model = tei.TextEmbeddingsInference(
        model_name="tiny",
        base_url=server,
        query_instruction=prompt.rstrip(" "),
        text_instruction="",
        truncate_text=False,
    )
    np.testing.assert_allclose(
        model.get_text_embedding_batch(DOCS), engine.embed_documents(DOCS), atol=1e-6
    )
    # TEI clients put the prompt in the text: the same tokens as the engine's query path.
    np.testing.assert_allclose(
        model.get_query_embedding(QUERIES[0]), engine.embed_queries(QUERIES[:1])[0], atol=1e-5
    )


def test_remote_embedder_equals_the_local_engine(server: str, engine: harrier.Embedder) -> None:
    remote = harrier.RemoteEmbedder(server)
    assert (remote.model_name, remote.dimension, remote.max_tokens) == ("tiny", 64, 256)
    assert np.array_equal(remote.embed_documents(DOCS), engine.embed_documents(DOCS))
    for kwargs in ({}, {"prompt_name": "bitext_query"}, {"instruction": "Find capitals"}):
        np.testing.assert_allclose(
            remote.embed_queries(QUERIES, **kwargs),
            engine.embed_queries(QUERIES, **kwargs),
            atol=1e-6,
        )
        assert remote.query_prompt(**kwargs) == engine.query_prompt(**kwargs)
    assert remote.count_tokens(DOCS) == engine.count_tokens(DOCS)
    assert remote.tokenizer(DOCS)["input_ids"] == engine.tokenizer(DOCS)["input_ids"]
    text = "A sentence about embeddings. " * 60
    assert harrier.split_spans(text, remote, max_tokens=50) == harrier.split_spans(
        text, engine, max_tokens=50
    )
    assert remote.embed_documents([]).shape == (0, 64)
    assert pickle.loads(pickle.dumps(remote)).embed_documents(DOCS[:1]).shape == (1, 64)


def test_remote_embedder_typed_errors(server: str) -> None:
    remote = harrier.RemoteEmbedder(server, chunk_texts=2)
    with pytest.raises(harrier.TextTooLongError) as caught:
        remote.embed_documents(["ok", "fine", "x", "word " * 400])
    assert (caught.value.index, caught.value.limit) == (3, 256)  # index in the caller's list
    with pytest.raises(harrier.EmptyTextError):
        remote.embed_documents(["<|endoftext|>"])
    with pytest.raises(harrier.UnknownPromptError):
        remote.embed_queries(["x"], prompt_name="nope")
    with pytest.raises(harrier.InputTypeError):
        remote.embed_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(harrier.EmbeddingServerError, match="cannot reach"):
        harrier.RemoteEmbedder("http://127.0.0.1:9", timeout=5)


def test_remote_embedder_with_an_api_key(engine: harrier.Embedder) -> None:
    with serve_in_thread(engine, api_key="k3y") as url:
        with pytest.raises(harrier.EmbeddingServerError, match="401") as caught:
            harrier.RemoteEmbedder(url)
        assert caught.value.status == 401
        remote = harrier.RemoteEmbedder(url, api_key="k3y")
        np.testing.assert_allclose(
            remote.embed_documents(DOCS), engine.embed_documents(DOCS), atol=1e-6
        )


def test_adapters_accept_a_remote_embedder(server: str, engine: harrier.Embedder) -> None:
    from langchain_harrier import HarrierEmbeddings, HarrierTextSplitter
    from llama_index.embeddings.harrier import HarrierEmbedding, HarrierNodeParser

    remote = harrier.RemoteEmbedder(server)
    lc = HarrierEmbeddings(embedder=remote, query_instruction="Find capitals")
    assert lc.model_name == "tiny" and lc.embedder is remote
    np.testing.assert_allclose(
        lc.embed_query(QUERIES[0]),
        engine.embed_queries(QUERIES[:1], instruction="Find capitals")[0],
        atol=1e-6,
    )
    np.testing.assert_allclose(lc.embed_documents(DOCS), engine.embed_documents(DOCS), atol=1e-6)
    chunks = HarrierTextSplitter(embedder=lc, max_tokens=20).split_text(" ".join(DOCS) * 5)
    assert len(chunks) > 1 and max(remote.count_tokens(chunks)) <= 20
    li = HarrierEmbedding(embedder=remote)
    np.testing.assert_allclose(
        li.get_query_embedding(QUERIES[0]), engine.embed_queries(QUERIES[:1])[0], atol=1e-6
    )
    np.testing.assert_allclose(
        li.get_text_embedding_batch(DOCS), engine.embed_documents(DOCS), atol=1e-6
    )
    nodes = HarrierNodeParser(embedder=li, max_tokens=20).get_nodes_from_documents(
        [__import__("llama_index.core").core.Document(text=" ".join(DOCS) * 5)]
    )
    assert len(nodes) > 1 and max(remote.count_tokens([n.text for n in nodes])) <= 20


def test_cli_ingest_through_the_server(
    server: str, engine: harrier.Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harrier.cli import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": text}) + "\n" for i, text in enumerate(DOCS))
    )
    store = f"qdrant:{tmp_path / 'qdrant'}"
    common = ["--collection", "docs", "--store", store, "--embedder", server, "--json"]
    assert main(["ingest", str(corpus), *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["documents"], report["spans_written"]) == (3, 3)
    assert main(["search", "capital of France", "-k", "1", *common]) == 0
    hit = json.loads(capsys.readouterr().out.splitlines()[0])
    local = engine.embed_queries(["capital of France"]) @ engine.embed_documents(DOCS).T
    assert hit["doc_id"] == f"d{int(np.argmax(local))}"
