"""ASGI middleware: request metrics, and the guard that keeps a bad request from hurting the
server (a body deadline, ``Connection: close`` where the rest of a body is unread, a 500
answer rather than a dropped connection, memory given back after large bodies)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harrier.serve._http import BodyTimeout
from harrier.serve._limits import ServeLimits
from harrier.serve._memory import MemoryReleaser
from harrier.serve._metrics import Metrics

logger = logging.getLogger("harrier")

_INTERNAL = json.dumps(
    {
        "error": {
            "message": "internal error; the server logged it",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
    }
).encode()


class Observe:
    """Request counts by endpoint and status, latency, requests in flight."""

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = paths

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
            endpoint = scope["path"] if scope["path"] in self.paths else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


class Guard:
    """The body must arrive within ``body_timeout_s`` of the headers (else ``BodyTimeout`` in
    the handler's read); an error answered before the body was read says ``Connection:
    close``; an unexpected exception is logged and answered 500 (with ``Connection: close``)
    here, so the server never drops a connection without an answer."""

    def __init__(self, app: ASGIApp, limits: ServeLimits, memory: MemoryReleaser) -> None:
        self.app = app
        self.timeout = limits.body_timeout_s
        self.memory = memory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        headers = dict(scope["headers"])
        body_done = b"content-length" not in headers and b"transfer-encoding" not in headers
        received = 0
        started = False

        async def guarded_receive() -> Message:
            nonlocal body_done, received
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                closing = any(name.lower() == b"connection" for name, _ in headers)
                if message["status"] >= 400 and not body_done and not closing:
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            logger.exception("harrier serve: %s %s failed", scope["method"], scope["path"])
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL})
        finally:
            self.memory.after_request(received)
