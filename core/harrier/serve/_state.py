"""What every route shares: the engine once loaded, the limits, the metrics, the key, the names."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import Request

from harrier._embedder import Embedder
from harrier.serve._engine import ServedEngine
from harrier.serve._http import ApiError, check_api_key, read_json
from harrier.serve._limits import ServeLimits
from harrier.serve._metrics import Metrics
from harrier.serve._names import default_names

logger = logging.getLogger("harrier")
progress = logging.getLogger("harrier.progress")  # on stderr by default under the CLI

Loader = Callable[[], Embedder]


class ServerState:
    """The engine (None until loaded), limits, metrics, the API key and the served names."""

    def __init__(
        self, limits: ServeLimits, api_key: str | None, served_names: Sequence[str] = ()
    ) -> None:
        self.limits = limits
        self.metrics = Metrics()
        self.key = api_key.encode() if api_key else None
        self.served_names = list(served_names)
        self.served: ServedEngine | None = None
        self.tokenizer_files: dict[str, str] = {}
        self.error: str | None = None

    @property
    def served_name(self) -> str:
        """The first served name: what responses and ``/info`` report."""
        return self.served_names[0] if self.served_names else ""

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
            self.served_names = self.served_names or default_names(engine.model_name)
            self.served = ServedEngine(engine, self.limits, self.metrics)
            progress.info(
                "serve ready as %s (%s, %s)",
                ", ".join(self.served_names),
                ", ".join(str(d) for d in engine.devices),
                str(engine.dtype).removeprefix("torch."),
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
        """The engine and the request's JSON object (after the key check)."""
        served = self.ready(request)
        return served, await read_json(request, self.limits.max_request_bytes)
