"""uvicorn's h11 protocol with a deadline for request headers, which uvicorn does not have.

uvicorn closes a keep-alive connection idle for ``timeout_keep_alive``, but waits forever for
the first request on a new connection and for headers sent a byte at a time. Here a connection
must deliver a request's complete headers within ``header_timeout`` of connecting (or of the
previous answer, or of the request's first byte on a kept-alive connection), or it is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("harrier")


def header_timeout_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """An h11 protocol class closing connections whose headers take over ``header_timeout``."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                self._arm()  # still reading headers (kept running if already armed)
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._disarm()  # idle now: uvicorn's keep-alive timeout applies

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                logger.info(
                    "harrier serve: closed a connection that sent no complete request "
                    "headers within %s s",
                    header_timeout,
                )
                self.transport.close()

    return HeaderTimeoutProtocol
