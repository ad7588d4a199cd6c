"""``harrier serve``: one engine shared over HTTP, OpenAI- and TEI-compatible, batching across
requests. Needs the ``serve`` extra (``pip install 'harrier-suite[serve]'``)."""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import prometheus_client  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by hand without the extra
    raise ImportError(
        f"harrier serve needs FastAPI, uvicorn and prometheus-client ({exc.name} is missing); "
        "install them with pip install 'harrier-suite[serve]'"
    ) from exc

from harrier.serve._app import create_app
from harrier.serve._limits import ServeLimits
from harrier.serve._server import bind, run_server
from harrier.serve._state import ServerState

__all__ = ["ServeLimits", "ServerState", "bind", "create_app", "run_server"]
