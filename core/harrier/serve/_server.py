"""Run the app with uvicorn on a socket bound beforehand (so port 0 yields a known port)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence

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
    import uvicorn

    failure: list[str] = []

    def on_load(state: ServerState) -> None:
        if state.error is not None:
            failure.append(state.error)
            server.should_exit = True

    app = create_app(
        loader, limits=limits, api_key=api_key, served_names=served_names, on_load=on_load
    )
    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=access_log,
        log_config=None,
        timeout_graceful_shutdown=int(drain_timeout) or None,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return failure[0] if failure else None
