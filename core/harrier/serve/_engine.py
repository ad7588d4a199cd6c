"""The served engine: request checks against the limits, queueing, waiting for the vectors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NamedTuple

import numpy as np
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from harrier._embedder import Embedder
from harrier._errors import (
    ConfigurationError,
    EmbeddingOutOfMemoryError,
    EmptyTextError,
    InputError,
)
from harrier.serve._batcher import Batcher, Closing, QueueFull
from harrier.serve._budget import token_rows
from harrier.serve._http import ApiError, Disconnected, bad_request
from harrier.serve._limits import ServeLimits
from harrier.serve._metrics import Metrics
from harrier.serve._tokenizer import ServeTokenizer

logger = logging.getLogger("harrier")

_INLINE_CHARS = 4096
"""Requests with less text than this are tokenised on the event loop, larger ones in a thread."""


class Key(NamedTuple):
    """How a group of texts is embedded; requests with equal keys share engine calls."""

    input_type: str  # "query" or "document"
    instruction: str | None
    prompt_name: str | None
    truncate: bool


class ServedEngine:
    """An ``Embedder`` behind a bounded batching queue, with the request checks."""

    def __init__(self, engine: Embedder, limits: ServeLimits, metrics: Metrics) -> None:
        self.engine = engine
        self.limits = limits
        self.metrics = metrics
        self.tokenizer = ServeTokenizer(engine.tokenizer)
        self.batcher = Batcher(
            self._embed,
            max_batch_tokens=engine.max_batch_tokens,
            max_wait=limits.batch_wait_ms / 1000,
            max_queue_texts=limits.max_queue_texts,
            max_queue_tokens=limits.max_queue_tokens,
            max_batch_requests=limits.max_batch_requests,
            on_batch=metrics.on_batch,
        )

    def _embed(self, key: Key, rows: list[np.ndarray]) -> np.ndarray:
        """Token-id rows, tokenised (and truncated) once, by :meth:`encode`."""
        return self.engine.embed_token_ids(rows, prompt=self.prompt(key) or None)

    def prompt(self, key: Key) -> str:
        """The text put before each input (empty for documents); 400 on a bad prompt."""
        if key.input_type != "query":
            return ""
        try:
            return self.engine.query_prompt(key.instruction, key.prompt_name)
        except ConfigurationError as exc:
            param = "prompt_name" if key.prompt_name is not None else "instruction"
            raise bad_request(str(exc), param=param, code="invalid_prompt") from None

    def encode(self, texts: list[str], key: Key, param: str) -> tuple[list[np.ndarray], int]:
        """The token ids the model runs per text (prompt included, truncated if asked) and the
        tokens in all; checks every limit, stopping at the first one passed."""
        prompt = self.prompt(key)
        return token_rows(
            self.tokenizer,
            [prompt + text for text in texts] if prompt else texts,
            limit=self.engine.max_tokens,
            truncate=key.truncate,
            limits=self.limits,
            param=param,
            documents=not prompt,
        )

    async def embed(
        self, request: Request, texts: list[str], key: Key, param: str
    ) -> tuple[np.ndarray, int]:
        """The vectors of ``texts`` and the tokens the model ran, through the shared queue."""
        try:
            if sum(map(len, texts)) < _INLINE_CHARS:  # cheaper than a thread hand-off
                rows, tokens = self.encode(texts, key, param)
            else:
                rows, tokens = await run_in_threadpool(self.encode, texts, key, param)
            future = self._submit(key, rows, tokens)
            vectors = await _result_unless_gone(request, future)
        except EmptyTextError as exc:  # only special tokens
            raise bad_request(
                f"{param}[{exc.index}] is empty (no tokens besides special "
                "tokens); drop empty texts",
                param=f"{param}[{exc.index}]",
                code="empty_text",
            ) from None
        except InputError as exc:
            raise bad_request(str(exc), param=param, code="invalid_input") from None
        except EmbeddingOutOfMemoryError as exc:
            raise ApiError(413, str(exc), param=param, code="out_of_memory") from None
        finally:
            self.metrics.queue_depth.set(self.batcher.queued_texts)
        self.metrics.tokens.labels(key.input_type).inc(tokens)
        self.metrics.texts.labels(key.input_type).inc(len(texts))
        return vectors, tokens

    def _submit(self, key: Key, inputs: list[Any], tokens: int) -> Any:
        try:
            future = self.batcher.submit(key, inputs, tokens)
        except QueueFull as exc:
            self.metrics.rejected.inc()
            status = 503 if isinstance(exc, Closing) else 429
            raise ApiError(
                status,
                f"the server is busy ({exc}); retry after {self.limits.retry_after_s} s",
                type="rate_limit_error",
                code="queue_full",
                headers={"Retry-After": str(self.limits.retry_after_s)},
            ) from None
        self.metrics.queue_depth.set(self.batcher.queued_texts)
        return future

    def close(self, timeout: float | None = None) -> None:
        self.batcher.close(timeout)


async def _result_unless_gone(request: Request, future: Any) -> np.ndarray:
    """Wait for ``future``; cancel it (freeing its queue slot) if the client disconnects."""
    result = asyncio.wrap_future(future)
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not result.done():
            raise Disconnected
        return result.result()
    finally:
        gone.cancel()
        if not result.done():
            result.cancel()  # cancels the queued job too


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
