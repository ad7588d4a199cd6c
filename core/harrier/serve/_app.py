"""The FastAPI application: OpenAI ``/v1/embeddings``, TEI ``/embed`` and the service routes."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harrier._embedder import Embedder
from harrier.serve._engine import Disconnected, ServedEngine, ServeLimits
from harrier.serve._http import ApiError, check_api_key, read_json
from harrier.serve._metrics import Metrics
from harrier.serve._routes import embedding_routes

logger = logging.getLogger("harrier")

Loader = Callable[[], Embedder]
_PATHS = {
    "/v1/embeddings",
    "/embed",
    "/tokenize",
    "/v1/models",
    "/info",
    "/tokenizer",
    "/health",
    "/metrics",
}


class ServerState:
    """What the routes share: the engine once loaded, limits, metrics, the key."""

    def __init__(self, limits: ServeLimits, api_key: str | None, served_name: str | None):
        self.limits = limits
        self.metrics = Metrics()
        self.key = api_key.encode() if api_key else None
        self.served_name = served_name
        self.served: ServedEngine | None = None
        self.tokenizer_files: dict[str, str] = {}
        self.error: str | None = None

    def load(self, loader: Loader) -> None:
        """Load the engine (in a thread at startup); /health turns ready when done."""
        try:
            engine = loader()
            with tempfile.TemporaryDirectory() as folder:
                engine.tokenizer.save_pretrained(folder)
                self.tokenizer_files = {
                    p.name: p.read_text(encoding="utf-8")
                    for p in sorted(Path(folder).iterdir())
                    if p.is_file()
                }
            self.served_name = self.served_name or engine.model_name
            self.served = ServedEngine(engine, self.limits, self.metrics)
            logger.info(
                "harrier serve: %s ready (%s, %s)", self.served_name, engine.device, engine.dtype
            )
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("harrier serve: the model failed to load: %s", self.error)

    def ready(self, request: Request) -> ServedEngine:
        """The engine, after the key check; 503 with Retry-After while it loads."""
        check_api_key(request, self.key)
        if self.served is None:
            message = (
                f"the model failed to load: {self.error}"
                if self.error
                else "the model is still loading; retry shortly"
            )
            raise ApiError(
                503,
                message,
                type="server_error",
                code="model_not_ready",
                headers={"Retry-After": str(self.limits.retry_after_s)},
            )
        return self.served

    async def body(self, request: Request) -> tuple[ServedEngine, dict[str, Any]]:
        served = self.ready(request)
        return served, await read_json(request, self.limits.max_request_bytes)


def create_app(
    engine: Embedder | Loader,
    *,
    limits: ServeLimits | None = None,
    api_key: str | None = None,
    served_name: str | None = None,
    on_load: Callable[[ServerState], None] | None = None,
) -> FastAPI:
    """The server app for ``engine`` (an ``Embedder``, or a function loading one at startup).

    ``api_key`` (if given) is required as ``Authorization: Bearer <key>`` on every route but
    ``/health``; ``served_name`` is the model id clients send (default: the model's name);
    ``on_load`` is called with the state once loading ended (ready or failed).
    """
    state = ServerState(limits or ServeLimits(), api_key, served_name)
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
    app.include_router(embedding_routes(state))

    @app.get("/health")
    async def health() -> Response:
        if state.served is None:
            status = "failed" if state.error else "loading"
            return JSONResponse(
                {"status": status, "error": state.error},
                status_code=503,
                headers={"Retry-After": str(state.limits.retry_after_s)},
            )
        return JSONResponse({"status": "ok", "model": state.served_name})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        check_api_key(request, state.key)
        if state.served is not None:
            state.metrics.queue_depth.set(state.served.batcher.queued_texts)
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    @app.get("/tokenizer")
    async def tokenizer(request: Request) -> Response:
        state.ready(request)
        return JSONResponse({"files": state.tokenizer_files})

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
            endpoint = scope["path"] if scope["path"] in _PATHS else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
