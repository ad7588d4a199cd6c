"""A tiny-model engine served on a free loopback port, shared by the module's tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import harrier
from harrier.testing import serve_in_thread


@pytest.fixture(scope="module")
def engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(
        qwen_path, device="cpu", dtype="float32", max_tokens=256
    )


@pytest.fixture(scope="module")
def server(engine: harrier.Embedder) -> Iterator[str]:
    with serve_in_thread(engine, served_names=["tiny"]) as url:
        yield url


@pytest.fixture(scope="session")
def hardened() -> Any:
    """Serves an engine as ``harrier serve`` does: ``with hardened(engine, **options) as url``."""
    return _hardened


@contextmanager
def _hardened(engine: Any, **options: Any) -> Iterator[str]:
    """Serve ``engine`` as ``harrier serve`` does (its uvicorn settings: header timeout,
    keep-alive, connection cap) on a free loopback port; yields the URL once ready."""
    import httpx

    from harrier.serve import ServeLimits, bind, create_app
    from harrier.serve._server import make_server

    limits = options.pop("limits", None) or ServeLimits()
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = make_server(create_app(engine, limits=limits, **options), limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(3000):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            threading.Event().wait(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
