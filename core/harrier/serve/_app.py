"""The FastAPI application: the routes of ``_routes.py``, error handlers, request metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harrier._embedder import Embedder
from harrier.serve._engine import Disconnected
from harrier.serve._http import ApiError
from harrier.serve._limits import ServeLimits
from harrier.serve._metrics import Metrics
from harrier.serve._routes import PATHS, routes
from harrier.serve._state import Loader, ServerState

logger = logging.getLogger("harrier")


def create_app(
    engine: Embedder | Loader,
    *,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
    served_names: Sequence[str] = (),
    on_load: Callable[[ServerState], None] | None = None,
) -> FastAPI:
    """The server app for ``engine`` (an ``Embedder``, or a function loading one at startup).

    ``api_key`` (if given) is required as ``Authorization: Bearer <key>`` on every route but
    ``/health``; ``served_names`` are the model ids clients send (default: the model's name);
    ``on_load`` is called with the state once loading ended (ready or failed).
    """
    state = ServerState(limits or ServeLimits(), api_key, served_names)
    loader = engine if callable(engine) and not isinstance(engine, Embedder) else (lambda: engine)

    def load() -> None:
        state.load(loader)  # type: ignore[arg-type]
        if on_load is not None:
            on_load(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=load, name="harrier-serve-load", daemon=True)
        thread.start()
        yield
        thread.join()
        if state.served is not None:
            state.served.close()

    app = FastAPI(title="harrier serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.harrier = state
    app.add_middleware(_Observe, metrics=state.metrics)
    _error_handlers(app)
    app.include_router(routes(state))
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(Disconnected)
    async def disconnected(request: Request, exc: Disconnected) -> Response:
        return Response(status_code=499)  # nobody reads it; counted in the metrics

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        error = ApiError(
            exc.status_code,
            str(exc.detail),
            code="not_found" if exc.status_code == 404 else None,
            headers=exc.headers,
        )
        return error.response()

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        logger.error("harrier serve: %s %s failed", request.method, request.url.path, exc_info=exc)
        return ApiError(
            500, f"internal error: {type(exc).__name__}", type="server_error", code="internal_error"
        ).response()


class _Observe:
    """ASGI middleware: request counts by endpoint and status, latency, requests in flight."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.metrics.in_flight.dec()
            endpoint = scope["path"] if scope["path"] in PATHS else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
