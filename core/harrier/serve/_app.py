"""The FastAPI application: the routes of ``_routes.py``, error handlers, middleware.

No OpenAPI schema or docs pages are served: the API is OpenAI's and TEI's, documented there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from harrier._embedder import Embedder
from harrier.serve._http import ApiError, Disconnected
from harrier.serve._limits import ServeLimits
from harrier.serve._memory import MemoryReleaser
from harrier.serve._middleware import Guard, Observe
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
    loader = engine if callable(engine) else (lambda: engine)  # an engine is not callable

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

    app = FastAPI(
        title="harrier serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.harrier = state
    app.add_middleware(Guard, limits=state.limits, memory=MemoryReleaser())
    app.add_middleware(Observe, metrics=state.metrics, paths=PATHS)  # outermost: sees the 500s
    _error_handlers(app)
    app.include_router(routes(state))
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(Disconnected)
    async def disconnected(request: Request, exc: Disconnected) -> Response:
        logger.info(
            "harrier serve: the client of %s %s disconnected before its answer",
            request.method,
            request.url.path,
        )
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
