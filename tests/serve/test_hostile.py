"""Issue 20's serve defects: each request's work bounded before it is done, lone surrogates and
deep nesting refused, connections answered or closed, slow clients timed out, disconnects
counted as 499, no OpenAPI schema without the key."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import harrier
from harrier.serve import ServeLimits
from harrier.testing import serve_in_thread

LIMITS = ServeLimits(
    max_tokens_per_request=4000,
    max_queue_tokens=8000,
    max_response_bytes=100_000,
    header_timeout_s=1.0,
    body_timeout_s=1.0,
    keep_alive_s=1.0,
)


@pytest.fixture(scope="module")
def url(engine: harrier.Embedder) -> Iterator[str]:
    with serve_in_thread(engine, limits=LIMITS, api_key="k") as address:
        yield address


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"Authorization": "Bearer k"}) as http:
        yield http


@pytest.fixture
def tokenised(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Characters handed to a tokenizer while serving (the server's and the engine's)."""
    from harrier import _embedder
    from harrier.serve._tokenizer import ServeTokenizer

    counted: list[int] = []
    ids, leading, encode = ServeTokenizer.ids, ServeTokenizer.leading, _embedder.encode

    def count_ids(self: ServeTokenizer, texts: list[str]) -> Any:
        counted.append(sum(map(len, texts)))
        return ids(self, texts)

    def count_leading(self: ServeTokenizer, text: str, need: int) -> Any:
        encoding, whole = leading(self, text, need)
        counted.append(len(text) if whole else encoding.offsets[-1][1])
        return encoding, whole

    def count_encode(tokenizer: Any, texts: list[str]) -> Any:
        counted.append(sum(map(len, texts)))
        return encode(tokenizer, texts)

    monkeypatch.setattr(ServeTokenizer, "ids", count_ids)
    monkeypatch.setattr(ServeTokenizer, "leading", count_leading)
    monkeypatch.setattr(_embedder, "encode", count_encode)
    return counted


def _raw(url: str, request: bytes, wait: float = 10) -> tuple[socket.socket, bytes]:
    """Send ``request`` on a new connection; the socket and the first answer's bytes."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=wait)
    sock.sendall(request)
    return sock, _answer(sock)


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _post(path: str, body: bytes, key: bool = True) -> bytes:
    auth = b"Authorization: Bearer k\r\n" if key else b""
    return (
        b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), auth, len(body), body)
    )


# -- 4: an over-limit request is refused before its work is done ---------------------------------
def test_a_huge_text_is_refused_without_tokenising_it(
    url: str, client: httpx.Client, tokenised: list[int]
) -> None:
    started = time.perf_counter()
    answer = client.post(f"{url}/v1/embeddings", json={"input": "word " * 400_000})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "text_too_long"
    assert "over the model's limit of 256" in answer.json()["error"]["message"]
    assert sum(tokenised) == 0  # refused by its length alone
    assert time.perf_counter() - started < 5  # seconds of CPU before the fix; here no work


def test_a_long_text_under_the_length_bound_is_counted_in_bounded_steps(
    url: str, client: httpx.Client, tokenised: list[int]
) -> None:
    answer = client.post(f"{url}/v1/embeddings", json={"input": ["fine", "a" * 9000]})
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "input[1]"
    assert sum(tokenised) < 4 * 256 * 4  # a prefix, not the 9000 characters


def test_truncation_reads_a_prefix_and_equals_truncating_everything(
    url: str, client: httpx.Client, engine: harrier.Embedder, tokenised: list[int]
) -> None:
    word, marks = "a" * 1_000_000, "e" + "\u0301" * 10_000
    started = time.perf_counter()
    answer = client.post(f"{url}/v1/embeddings", json={"input": [word, marks], "truncate": True})
    assert answer.status_code == 200 and answer.json()["usage"]["prompt_tokens"] == 2 * 256
    assert time.perf_counter() - started < 5  # 31 s and 11 s before the fix
    assert sum(tokenised) < 50_000
    vectors = np.array([row["embedding"] for row in answer.json()["data"]], dtype=np.float32)
    reference = harrier.Embedder.from_pretrained(
        engine.model_name, device="cpu", dtype="float32", max_tokens=256, truncate=True
    ).embed_documents([word[:3000], marks[:3000]])  # the model's own truncation, of enough text
    np.testing.assert_allclose(vectors, reference, atol=1e-6)


# -- 5: /tokenize is bounded ---------------------------------------------------------------------
def test_tokenize_is_bounded_in_tokens_and_answer_size(url: str, client: httpx.Client) -> None:
    many = client.post(f"{url}/tokenize", json={"inputs": "word " * 5000})
    assert many.status_code == 413 and "--max-tokens-per-request" in many.text
    assert "limit of 4000" in many.json()["error"]["message"]
    wide = client.post(f"{url}/tokenize", json={"inputs": ["word " * 1200] * 3})
    assert wide.status_code == 413 and wide.json()["error"]["code"] == "response_too_large"
    assert "--max-response-bytes" in wide.json()["error"]["message"]
    assert client.post(f"{url}/tokenize", json={"inputs": "fine"}).status_code == 200


# -- 6: lone surrogates and deep nesting are 400, connections stay usable or say close -----------
SURROGATES = [
    ("/v1/embeddings", rb'{"input": "\ud800"}'),
    ("/v1/embeddings", rb'{"input": ["ok", "a\udfff"]}'),
    ("/v1/embeddings", rb'{"input": "a", "model": "\udc00"}'),
    ("/v1/embeddings", rb'{"input": "a", "input_type": "query", "instruction": "\ud800"}'),
    ("/v1/embeddings", rb'{"input": "a", "encoding_format": "\ud800"}'),
    ("/v1/embeddings", rb'{"\ud800": 1, "input": "a"}'),
    ("/embed", rb'{"inputs": "\ud800"}'),
    ("/embed", rb'{"inputs": "x", "prompt_name": "\udbff"}'),
    ("/tokenize", rb'{"inputs": ["\ud800"]}'),
]


@pytest.mark.parametrize("path, body", SURROGATES)
def test_lone_surrogates_are_400_everywhere(
    url: str, client: httpx.Client, path: str, body: bytes
) -> None:
    answer = client.post(f"{url}{path}", content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_unicode"
    assert client.post(f"{url}/embed", json={"inputs": "after"}).status_code == 200


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"input": ' + b"[" * 100_000, b'{"input": ' + b"9" * 5000 + b"}"]
)
def test_deep_nesting_and_huge_numbers_are_400(url: str, body: bytes) -> None:
    sock, answer = _raw(url, _post("/v1/embeddings", body))
    with sock:
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b'"code":"invalid_json"' in answer.replace(b" ", b"")
        sock.sendall(_post("/embed", b'{"inputs": "same connection"}'))
        assert _answer(sock).startswith(b"HTTP/1.1 200")


def test_an_error_before_the_body_is_read_says_connection_close(url: str) -> None:
    head = (
        b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: %d\r\n\r\n" % (LIMITS.max_request_bytes + 1)
    )
    sock, answer = _raw(url, head + b"{")
    with sock:
        assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
        assert sock.recv(100) == b""  # and it closes


def _padded(body: bytes, size: int) -> bytes:
    """``body`` (a JSON object) with whitespace before its closing brace, ``size`` bytes long."""
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_a_body_over_the_limit_is_413_naming_it_and_one_at_the_limit_is_served(url: str) -> None:
    limit = LIMITS.max_request_bytes
    small = _post("/embed", b'{"inputs": "at the limit"}')
    sock, expected = _raw(url, small)
    sock.close()
    sock, answer = _raw(url, _post("/embed", _padded(b'{"inputs": "at the limit"}', limit)))
    with sock:
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.partition(b"\r\n\r\n")[2] == expected.partition(b"\r\n\r\n")[2]
    over = _padded(b'{"inputs": "over the limit"}', limit + 1)
    chunked = (
        b"POST /embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(over), over)
    )
    declared = _post("/embed", over)[: -len(over) + 1]  # refused before the body: not sent
    for request in (declared, chunked):  # by Content-Length, or as the body is read
        sock, answer = _raw(url, request)
        with sock:
            assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
            error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
            assert error["code"] == "request_too_large"
            assert f"limit of {limit} bytes (--max-request-bytes)" in error["message"]


LARGE = [  # (body, status, error code): each over the size parsed in a worker thread
    (b'{"input": "plain"}', 200, None),
    (b'{"input": ["line\\none", "\\ud83d\\ude00 a pair", "\\u00e9t\\u00e9"]}', 200, None),
    (b'{"input": ["fine", "lone \\udc00 surrogate"]}', 400, "invalid_unicode"),
    (b'{"input": "not json",}', 400, "invalid_json"),
    (b'{"input": "not utf-8 \xff"}', 400, "invalid_utf8"),
    (b'["an", "array"]', 400, "invalid_type"),
]


@pytest.mark.parametrize("body, status, code", LARGE)
def test_a_large_legal_body_parses_as_a_small_one_and_a_bad_one_is_400(
    url: str, client: httpx.Client, body: bytes, status: int, code: str | None
) -> None:
    from harrier.serve._http import PARSE_IN_THREAD_BYTES

    large = body[:-1] + b" " * PARSE_IN_THREAD_BYTES + body[-1:]
    answer = client.post(f"{url}/v1/embeddings", content=large)
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error"]["code"] == code
    else:
        assert answer.json() == client.post(f"{url}/v1/embeddings", content=body).json()


def test_a_large_body_is_parsed_while_the_server_answers_others(
    url: str, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harrier.serve import _http

    parsing, release = threading.Event(), threading.Event()
    parse = _http.parse_json

    def held(body: bytes) -> dict[str, Any]:
        if len(body) >= _http.PARSE_IN_THREAD_BYTES:
            parsing.set()
            assert release.wait(30)
        return parse(body)

    monkeypatch.setattr(_http, "parse_json", held)
    large = b'{"input": "held"' + b" " * _http.PARSE_IN_THREAD_BYTES + b"}"
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(client.post(f"{url}/v1/embeddings", content=large))
    )
    sender.start()
    try:
        assert parsing.wait(30)  # the large body is in its parse, held there
        with httpx.Client(timeout=30, headers={"Authorization": "Bearer k"}) as other:
            assert other.get(f"{url}/health").status_code == 200
            small = other.post(f"{url}/embed", json={"inputs": "answered meanwhile"})
            assert small.status_code == 200
        assert not answers  # still held: the others were answered while it was parsed
    finally:
        release.set()
        sender.join(30)
    assert answers[0].status_code == 200 and answers[0].json()["data"][0]["index"] == 0


def test_an_internal_error_is_a_500_answer_and_the_server_goes_on(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from harrier.serve._engine import ServedEngine

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(ServedEngine, "encode", broken)
    sock, answer = _raw(url, _post("/v1/embeddings", b'{"input": "x"}'))
    with sock:
        assert answer.startswith(b"HTTP/1.1 500") and b"internal_error" in answer
        assert b"connection: close" in answer.lower()
        assert sock.recv(100) == b""
    monkeypatch.undo()
    assert httpx.post(f"{url}/embed", json={"inputs": "x"}, headers={"Authorization": "Bearer k"})


# -- 7: slow and idle clients are timed out ------------------------------------------------------
def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (sending ``trickle`` a byte per 0.2 s)."""
    started = time.monotonic()
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            sent += 1
    raise AssertionError(f"still open after {seconds} s")


def test_idle_connections_and_slow_headers_are_closed(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(50)]
    slow = socket.create_connection((host, int(port)))
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    assert _closed_within(slow, 15, trickle=head) < 10
    for sock in idle:
        assert _closed_within(sock, 10) < 10
        sock.close()
    slow.close()


def test_a_trickled_body_gets_408(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    with sock:
        sock.sendall(_post("/v1/embeddings", b'{"input": "' + b"x" * 100 + b'"}')[:-90])
        sock.settimeout(15)
        started = time.monotonic()
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 10
        assert b"connection: close" in answer.lower()


# -- 8: disconnects are 499 at INFO, the schema needs the key ------------------------------------
def test_a_disconnect_mid_body_is_info_and_499(
    url: str, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = url.removeprefix("http://").split(":")
    errors = _count(client.get(f"{url}/metrics").text, "500")
    with caplog.at_level(logging.INFO, logger="harrier"):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(_post("/v1/embeddings", b'{"input": "' + b"x" * 100 + b'"}')[:-50])
        time.sleep(0.2)
        sock.close()
        deadline = time.monotonic() + 10
        pattern = r'harrier_requests_total\{endpoint="/v1/embeddings",status="499"\} (\S+)'
        while not re.search(pattern, client.get(f"{url}/metrics").text):
            assert time.monotonic() < deadline, "no 499 counted"
            time.sleep(0.05)
    assert _count(client.get(f"{url}/metrics").text, "500") == errors
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def _count(metrics: str, status: str) -> float:
    pattern = rf'harrier_requests_total\{{endpoint="/v1/embeddings",status="{status}"\}} (\S+)'
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_no_schema_or_docs_without_the_key(url: str, path: str) -> None:
    answer = httpx.get(f"{url}{path}")
    assert answer.status_code in (401, 404) and "paths" not in answer.text
