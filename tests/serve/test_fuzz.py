"""Byte-level mutations of valid requests against the running server: never a 5xx or a logged
traceback; ``/health`` keeps answering and a valid request after each bad one succeeds."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harrier
from harrier.serve import ServeLimits
from harrier.testing import serve_in_thread

VALID = [
    ("/v1/embeddings", b'{"input": ["Paris is in France", "b"], "model": "tiny"}'),
    ("/v1/embeddings", b'{"input": "q", "input_type": "query", "encoding_format": "base64"}'),
    ("/v1/embeddings", b'{"input": ["x y z"], "truncate": true, "dimensions": 32}'),
    ("/embed", b'{"inputs": ["a b", "c"], "prompt_name": "sts_query", "normalize": true}'),
    ("/tokenize", b'{"inputs": "hello there", "add_special_tokens": false}'),
]
HTTP = httpx.Client(timeout=30)  # kept alive across examples: each bad request must not break it
SPICE = [
    b"\\ud800",
    b"\\udfff\\ud800",
    b"[" * 3000,
    b"{" * 50,
    b"\xff",
    b"\xc3",
    b"\x00",
    b'"',
    b"1e999",
    b"-0",
    b"9" * 5000,
    b"null",
    b"true",
    b'"input"',
    b"<|endoftext|>",
    "\u0301".encode() * 200,
    b"a" * 20_000,
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    path, body = draw(st.sampled_from(VALID))
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "spice", "repeat"]))
        if action == "flip" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "spice":
            data[at:at] = draw(st.sampled_from(SPICE))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 32))] * draw(st.integers(2, 50))
    return path, bytes(data)


@pytest.fixture(scope="module")
def url(engine: harrier.Embedder) -> Iterator[str]:
    limits = ServeLimits(max_tokens_per_request=2000, max_queue_tokens=4000)
    with serve_in_thread(engine, limits=limits, served_names=["tiny"]) as address:
        yield address


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=mutated())
def test_mutated_requests_never_break_the_server(
    url: str, request: tuple[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    path, body = request
    client = HTTP
    with caplog.at_level(logging.INFO):
        answer = client.post(
            f"{url}{path}", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code < 500, (body[:200], answer.text[:300])
        if answer.status_code >= 400:
            assert answer.json()["error"]["message"]
        assert client.get(f"{url}/health").status_code == 200
        valid = client.post(f"{url}/embed", json={"inputs": "still serving"})
        assert valid.status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors]
