"""Cross-request batching: shared engine calls, own rows back, a bounded queue, disconnects."""

from __future__ import annotations

import copy
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

import harrier
from harrier.serve import ServeLimits
from harrier.serve._batcher import Batcher, QueueFull
from harrier.testing import serve_in_thread

HTTP = httpx.Client(timeout=60)  # one client: building one per call costs ~50 ms


def _gated_batcher(calls: list[list[str]], gate: threading.Event, **limits: int) -> Batcher:
    def embed(key: object, texts: list[str]) -> np.ndarray:
        gate.wait(30)
        calls.append(list(texts))
        return np.array([[float(len(t)), float(hash(key) % 7)] for t in texts])

    options = {
        "max_batch_tokens": 10_000,
        "max_queue_texts": 100,
        "max_queue_tokens": 10_000,
        "max_batch_requests": 64,
        **limits,
    }
    return Batcher(embed, max_wait=0.0, **options)


def test_queued_requests_share_one_engine_call_and_get_their_rows() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()
    batcher = _gated_batcher(calls, gate)
    first = batcher.submit("doc", ["blocker"], 1)
    while batcher.queued_texts:  # the worker holds the first job at the gate
        time.sleep(0.001)
    futures = [batcher.submit("doc", [f"t{i}", "x" * i], 2) for i in range(10)]
    query = batcher.submit("query", ["q"], 1)
    gate.set()
    assert first.result(10)[0, 0] == len("blocker")
    for i, future in enumerate(futures):
        assert future.result(10)[:, 0].tolist() == [len(f"t{i}"), i]
    assert query.result(10).shape == (1, 2)
    assert calls[1] == [t for i in range(10) for t in (f"t{i}", "x" * i)]  # one shared call
    assert calls[2] == ["q"]  # another key, another call
    batcher.close(10)


def test_full_queue_refuses_and_cancelled_jobs_free_their_slot() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()
    batcher = _gated_batcher(calls, gate, max_queue_texts=2)
    batcher.submit("doc", ["blocker"], 1)
    while batcher.queued_texts:
        time.sleep(0.001)
    waiting = batcher.submit("doc", ["a", "b"], 2)
    with pytest.raises(QueueFull):
        batcher.submit("doc", ["c"], 1)
    assert waiting.cancel() and batcher.queued_texts == 0
    later = batcher.submit("doc", ["c"], 1)
    gate.set()
    assert later.result(10)[0, 0] == 1
    batcher.close(10)
    assert ["a", "b"] not in calls


def test_concurrent_clients_get_exactly_their_own_vectors(
    server: str, engine: harrier.Embedder
) -> None:
    texts = [f"client {i} asks about topic {i * 7 % 13} " + "word " * (i % 9) for i in range(48)]

    def call(i: int) -> np.ndarray:
        kind = "query" if i % 3 == 0 else "document"
        body = {"input": [texts[i], texts[(i + 1) % 48]], "input_type": kind}
        rows = HTTP.post(f"{server}/v1/embeddings", json=body, timeout=60).json()["data"]
        return np.array([row["embedding"] for row in rows], dtype=np.float32)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(48)))
    documents = engine.embed_documents(texts)
    queries = engine.embed_queries(texts)
    for i, got in enumerate(results):
        expected = queries if i % 3 == 0 else documents
        np.testing.assert_allclose(got, expected[[i, (i + 1) % 48]], atol=1e-6)


@pytest.fixture
def gated_server(
    engine: harrier.Embedder,
) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A server whose engine waits at a gate in each call, with room for one queued text."""
    gate, entered = threading.Event(), threading.Event()
    gated = copy.copy(engine)
    original = gated.embed_token_ids  # what the server runs: requests are tokenised once

    def embed_token_ids(rows: list[np.ndarray], **kwargs: object) -> np.ndarray:
        entered.set()
        gate.wait(30)
        return original(rows, **kwargs)  # type: ignore[arg-type]

    gated.embed_token_ids = embed_token_ids  # type: ignore[method-assign]
    limits = ServeLimits(max_queue_texts=1, max_tokens_per_request=1000, max_queue_tokens=1000)
    with serve_in_thread(gated, limits=limits) as url:
        yield url, gate, entered
        gate.set()


def _queue_depth(url: str) -> float:
    match = re.search(r"^harrier_queue_depth (\S+)$", HTTP.get(f"{url}/metrics").text, re.M)
    assert match is not None
    return float(match.group(1))


def _wait_depth(url: str, depth: float) -> None:
    deadline = time.monotonic() + 20
    while _queue_depth(url) != depth:
        assert time.monotonic() < deadline, f"queue depth never reached {depth}"
        time.sleep(0.01)


def test_overload_gets_429_and_a_disconnect_frees_its_slot(
    gated_server: tuple[str, threading.Event, threading.Event], engine: harrier.Embedder
) -> None:
    url, gate, entered = gated_server
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(
            HTTP.post, f"{url}/v1/embeddings", json={"input": ["held"]}, timeout=60
        )
        assert entered.wait(30)  # taken by the worker, held at the gate
        port = int(url.rsplit(":", 1)[1])
        gone = socket.create_connection(("127.0.0.1", port))
        body = b'{"input": ["leaves early"]}'
        gone.sendall(
            b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        _wait_depth(url, 1)
        refused = HTTP.post(f"{url}/v1/embeddings", json={"input": ["one too many"]})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["code"] == "queue_full"
        gone.close()
        _wait_depth(url, 0)  # the disconnected request left the queue
        later = pool.submit(
            HTTP.post, f"{url}/v1/embeddings", json={"input": ["later"]}, timeout=60
        )
        _wait_depth(url, 1)
        gate.set()
        assert running.result(60).status_code == 200
        vector = later.result(60).json()["data"][0]["embedding"]
    np.testing.assert_allclose(vector, engine.embed_documents(["later"])[0], atol=1e-6)


def test_request_limits_answer_413_naming_the_limit(engine: harrier.Embedder) -> None:
    limits = ServeLimits(max_texts_per_request=3, max_tokens_per_request=40, max_request_bytes=2000)
    with serve_in_thread(engine, limits=limits) as url:
        many = HTTP.post(f"{url}/v1/embeddings", json={"input": ["a"] * 4})
        assert many.status_code == 413 and "limit of 3" in many.json()["error"]["message"]
        tokens = HTTP.post(f"{url}/v1/embeddings", json={"input": ["word " * 30] * 2})
        assert tokens.status_code == 413 and "limit of 40" in tokens.json()["error"]["message"]
        big = HTTP.post(f"{url}/v1/embeddings", json={"input": "x" * 5000})
        assert big.status_code == 413 and "2000 bytes" in big.json()["error"]["message"]
        assert HTTP.post(f"{url}/v1/embeddings", json={"input": ["fine"]}).status_code == 200


def test_api_key_is_required_and_health_stays_open(engine: harrier.Embedder) -> None:
    with serve_in_thread(engine, api_key="s3cret") as url:
        body = {"input": ["secret text"]}
        assert HTTP.post(f"{url}/v1/embeddings", json=body).status_code == 401
        wrong = HTTP.post(
            f"{url}/v1/embeddings", json=body, headers={"Authorization": "Bearer s3cre"}
        )
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert HTTP.get(f"{url}/metrics").status_code == 401
        good = HTTP.post(
            f"{url}/v1/embeddings", json=body, headers={"Authorization": "Bearer s3cret"}
        )
        assert good.status_code == 200 and HTTP.get(f"{url}/health").status_code == 200


def test_health_is_503_until_the_model_is_loaded(engine: harrier.Embedder) -> None:
    loaded = threading.Event()

    def slow_loader() -> harrier.Embedder:
        loaded.wait(30)
        return engine

    import uvicorn

    from harrier.serve import bind, create_app

    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(slow_loader), log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = HTTP.get(f"{url}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert health.status_code == 503 and health.json()["status"] == "loading"
        early = HTTP.post(f"{url}/v1/embeddings", json={"input": "x"})
        assert early.status_code == 503 and "Retry-After" in early.headers
        loaded.set()
        while HTTP.get(f"{url}/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert HTTP.post(f"{url}/v1/embeddings", json={"input": "x"}).status_code == 200
    finally:
        loaded.set()
        server.should_exit = True
        thread.join(30)


def test_close_embeds_what_is_queued_then_refuses_new_work() -> None:
    from harrier.serve._batcher import Closing

    calls: list[list[str]] = []
    gate = threading.Event()
    batcher = _gated_batcher(calls, gate)
    futures = [batcher.submit("doc", [f"t{i}"], 1) for i in range(5)]
    closer = threading.Thread(target=batcher.close, args=(30,))
    closer.start()
    gate.set()
    closer.join(30)
    assert [f.result(0)[0, 0] for f in futures] == [2.0] * 5
    with pytest.raises(Closing):
        batcher.submit("doc", ["late"], 1)
