"""Run ``harrier serve``'s app in a background thread on a free loopback port (tests, examples)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serve_in_thread(engine: Any, *, startup_timeout: float = 60.0, **options: Any) -> Iterator[str]:
    """Serve ``engine`` (an ``Embedder`` or a loader) on 127.0.0.1:<free port>; yields the URL.

    ``options`` go to :func:`harrier.serve.create_app`; the server runs as ``harrier serve``
    runs it (its timeouts and connection cap, from ``limits``). The server is ready (``/health``
    200) when the block starts, and is shut down gracefully when it ends.
    """
    from harrier.serve import ServeLimits, bind, create_app
    from harrier.serve._server import make_server

    limits = options.pop("limits", None) or ServeLimits()
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = make_server(create_app(engine, limits=limits, **options), limits)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="harrier-serve-test"
    )
    thread.start()
    try:
        _wait_ready(url, startup_timeout, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _wait_ready(url: str, timeout: float, thread: threading.Thread) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and thread.is_alive():
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"the test server at {url} did not become ready in {timeout} s")
