"""Run the app with uvicorn on a socket bound beforehand (so port 0 yields a known port)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from harrier._errors import ConfigurationError
from harrier.serve._app import create_app
from harrier.serve._limits import ServeLimits
from harrier.serve._state import Loader, ServerState

logger = logging.getLogger("harrier")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


def run_server(
    loader: Loader,
    sock: socket.socket,
    *,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
    served_names: Sequence[str] = (),
    drain_timeout: float = 30.0,
    access_log: bool = False,
) -> str | None:
    """Serve until SIGINT/SIGTERM, then drain in-flight requests (up to ``drain_timeout``).

    The model loads in the background while ``/health`` answers 503. Returns None after a clean
    stop, or the load error (the server stops at once when the model cannot be loaded).
    """
    failure: list[str] = []

    def on_load(state: ServerState) -> None:
        if state.error is not None:
            failure.append(state.error)
            server.should_exit = True

    limits = limits or ServeLimits()
    app = create_app(
        loader, limits=limits, api_key=api_key, served_names=served_names, on_load=on_load
    )
    server = make_server(app, limits, drain_timeout=drain_timeout, access_log=access_log)
    server.run(sockets=[sock])
    return failure[0] if failure else None


def make_server(
    app: Any, limits: ServeLimits, *, drain_timeout: float = 30.0, access_log: bool = False
) -> Any:
    """A ``uvicorn.Server`` for ``app`` with the read timeouts and connection cap of ``limits``:
    complete headers within ``header_timeout_s``, idle keep-alive connections closed after
    ``keep_alive_s``, at most ``max_connections`` at once (503 beyond), headers of at most
    64 KiB (the body's deadline is the app's ``Guard``)."""
    import uvicorn

    from harrier.serve._protocol import header_timeout_protocol

    config = uvicorn.Config(
        app,
        http=header_timeout_protocol(limits.header_timeout_s),
        lifespan="on",
        access_log=access_log,
        log_config=None,
        timeout_graceful_shutdown=int(drain_timeout) or None,
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        limit_concurrency=limits.max_connections,
        h11_max_incomplete_event_size=64 * 1024,
    )
    return uvicorn.Server(config)
