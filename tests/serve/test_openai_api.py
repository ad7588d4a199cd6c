"""POST /v1/embeddings and the service routes against the local engine."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

import harrier

TEXTS = ["Paris is the capital of France.", "机器学习 🙂", "a", "The quick brown fox. " * 20]

HTTP = httpx.Client(timeout=60)  # one client: building one per call costs ~50 ms


def _vectors(body: dict) -> np.ndarray:
    rows = sorted(body["data"], key=lambda row: row["index"])
    return np.array([row["embedding"] for row in rows], dtype=np.float32)


def test_documents_equal_the_local_engine(server: str, engine: harrier.Embedder) -> None:
    answer = HTTP.post(f"{server}/v1/embeddings", json={"input": TEXTS, "model": "tiny"})
    assert answer.status_code == 200
    body = answer.json()
    np.testing.assert_allclose(_vectors(body), engine.embed_documents(TEXTS), atol=1e-6)
    assert body["usage"]["prompt_tokens"] == sum(engine.count_tokens(TEXTS))
    assert body["model"] == "tiny" and [row["index"] for row in body["data"]] == [0, 1, 2, 3]


def test_base64_is_bit_exact(server: str, engine: harrier.Embedder) -> None:
    answer = HTTP.post(
        f"{server}/v1/embeddings", json={"input": TEXTS[0], "encoding_format": "base64"}
    ).json()
    vector = np.frombuffer(base64.b64decode(answer["data"][0]["embedding"]), dtype="<f4")
    assert np.array_equal(vector, engine.embed_documents(TEXTS[:1])[0])


@pytest.mark.parametrize(
    "fields, kwargs",
    [
        ({"input_type": "query"}, {}),
        ({"model": "tiny:query"}, {}),
        ({"input_type": "query", "prompt_name": "sts_query"}, {"prompt_name": "sts_query"}),
        ({"input_type": "query", "instruction": "Find recipes"}, {"instruction": "Find recipes"}),
    ],
)
def test_queries_follow_the_engine_rules(
    server: str, engine: harrier.Embedder, fields: dict, kwargs: dict
) -> None:
    queries = ["capital of France", "how to bake bread"]
    body = HTTP.post(f"{server}/v1/embeddings", json={"input": queries, **fields}).json()
    np.testing.assert_allclose(_vectors(body), engine.embed_queries(queries, **kwargs), atol=1e-6)
    prompt = engine.query_prompt(**kwargs)
    assert body["usage"]["prompt_tokens"] == sum(engine.count_tokens([prompt + q for q in queries]))


def test_too_long_text_names_index_count_and_limit(server: str, engine: harrier.Embedder) -> None:
    long = "word " * 400
    count = engine.count_tokens([long])[0]
    answer = HTTP.post(f"{server}/v1/embeddings", json={"input": ["ok", long]})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "input[1]" and error["code"] == "text_too_long"
    assert f"input[1] has {count} tokens" in error["message"] and "256" in error["message"]
    cut = HTTP.post(f"{server}/v1/embeddings", json={"input": [long], "truncate": True}).json()
    assert cut["usage"]["prompt_tokens"] == 256


@pytest.mark.parametrize(
    "content, status, code",
    [
        (b"{", 400, "invalid_json"),
        (b'{"input": "caf\xe9"}', 400, "invalid_utf8"),
        (b"[1, 2]", 400, "invalid_type"),
        (b"{}", 400, "missing_field"),
        (b'{"input": []}', 400, "empty_input"),
        (b'{"input": ["a", 3]}', 400, "invalid_type"),
        (b'{"input": [[1, 2, 3]]}', 400, "invalid_type"),
        (b'{"input": 7}', 400, "invalid_type"),
        (b'{"input": "a", "encoding_format": "int8"}', 400, "invalid_value"),
        (b'{"input": "a", "dimensions": 32}', 400, "unsupported_dimensions"),
        (b'{"input": "a", "input_type": "passage"}', 400, "invalid_value"),
        (b'{"input": "a", "prompt_name": "nope", "input_type": "query"}', 400, "invalid_prompt"),
        (b'{"input": "a", "instruction": "x"}', 400, "invalid_value"),
        (b'{"input": "a", "model": "gpt-4"}', 404, "model_not_found"),
        (b'{"input": ["<|endoftext|>"]}', 400, "empty_text"),
    ],
)
def test_bad_requests_get_openai_errors(
    server: str, content: bytes, status: int, code: str
) -> None:
    answer = HTTP.post(
        f"{server}/v1/embeddings", content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and set(error) >= {"type", "param"}
    assert HTTP.get(f"{server}/health").status_code == 200  # still serving


def test_tei_embed_and_tokenize(server: str, engine: harrier.Embedder) -> None:
    vectors = HTTP.post(f"{server}/embed", json={"inputs": TEXTS[:2]}).json()
    np.testing.assert_allclose(
        np.array(vectors, dtype=np.float32), engine.embed_documents(TEXTS[:2]), atol=1e-6
    )
    query = HTTP.post(f"{server}/embed", json={"inputs": "x y", "prompt_name": "sts_query"})
    np.testing.assert_allclose(
        np.array(query.json(), dtype=np.float32),
        engine.embed_queries(["x y"], prompt_name="sts_query"),
        atol=1e-6,
    )
    refused = HTTP.post(f"{server}/embed", json={"inputs": "x", "normalize": False})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "normalize"
    tokens = HTTP.post(f"{server}/tokenize", json={"inputs": TEXTS}).json()
    assert [len(row) for row in tokens] == engine.count_tokens(TEXTS)
    first = tokens[0]
    assert [t["id"] for t in first] == engine.tokenizer(TEXTS[0])["input_ids"]
    assert first[-1]["special"] and not first[0]["special"]


def test_models_info_health_metrics(server: str, engine: harrier.Embedder) -> None:
    ids = [m["id"] for m in HTTP.get(f"{server}/v1/models").json()["data"]]
    assert ids == ["tiny", "tiny:query", "tiny:document"]
    info = HTTP.get(f"{server}/info").json()
    assert (info["dimension"], info["max_input_length"]) == (engine.dimension, 256)
    assert info["default_query_prompt"] == engine.query_prompt()
    assert HTTP.get(f"{server}/health").json()["status"] == "ok"
    HTTP.post(f"{server}/v1/embeddings", json={"input": ["metrics probe"]})
    metrics = HTTP.get(f"{server}/metrics").text
    for name in (
        "harrier_requests_total",
        "harrier_tokens_total",
        "harrier_batch_texts_bucket",
        "harrier_queue_depth",
        "harrier_request_latency_seconds_bucket",
    ):
        assert name in metrics
    assert 'harrier_requests_total{endpoint="/v1/embeddings",status="200"}' in metrics
    assert HTTP.get(f"{server}/nowhere").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("fields", [{}, {"input_type": "query"}, {"truncate": True}])
def test_each_request_is_tokenised_once(
    server: str, engine: harrier.Embedder, fields: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids counted against the limits are the ids the model runs: one tokenizer call (the
    server's), none in the engine."""
    from harrier import _embedder
    from harrier.serve._tokenizer import ServeTokenizer

    calls: list[int] = []
    ids = ServeTokenizer.ids

    def counted(self: ServeTokenizer, texts: list[str]) -> list[np.ndarray]:
        calls.append(len(texts))
        return ids(self, texts)

    def engine_encode(tokenizer: object, texts: list[str]) -> list[np.ndarray]:
        raise AssertionError("the engine tokenised again")

    monkeypatch.setattr(ServeTokenizer, "ids", counted)
    monkeypatch.setattr(_embedder, "encode", engine_encode)
    answer = HTTP.post(f"{server}/v1/embeddings", json={"input": TEXTS, **fields})
    assert answer.status_code == 200 and calls == [len(TEXTS)]
