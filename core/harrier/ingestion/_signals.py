"""Stopping a run on Ctrl-C or SIGTERM: both arrive in the main thread as a
:class:`KeyboardInterrupt`; a run that stops early raises :class:`RunInterrupted` with what it
did, and the command exits 130 (SIGINT) or 143 (SIGTERM)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's ``KeyboardInterrupt``."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM after finishing (or abandoning) the work in flight.

    ``report`` counts what was done (every document it counts as written is complete in the
    store); running the same command again resumes. ``exit_code``: 130 or 143.
    """

    def __init__(self, report: Any, cause: BaseException) -> None:
        super().__init__("interrupted")
        self.report = report
        self.exit_code = exit_code(cause)


def exit_code(exc: BaseException) -> int:
    """The shell's code for the signal behind ``exc``: 143 for SIGTERM, else 130 (SIGINT)."""
    if isinstance(exc, RunInterrupted):
        return exc.exit_code
    return 128 + signal.SIGTERM if isinstance(exc, Terminated) else 128 + signal.SIGINT


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: no
    change, as only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[BaseException]]:
    """While a run cleans up after a stop, a second Ctrl-C or SIGTERM is noted, not raised, so
    the store is flushed and closed; the list gets what arrived."""
    arrived: list[BaseException] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return

    def note(signum: int, frame: Any) -> None:
        arrived.append(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
