"""Bounded hand-offs between pipeline stages running in threads."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.1


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(q: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; True when it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def in_background(items: Iterable[T], *, maxsize: int, name: str) -> Iterator[T]:
    """Iterate ``items`` in a thread, at most ``maxsize`` ahead; its errors are re-raised here."""
    q: queue.Queue[Any] = queue.Queue(maxsize)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, item, stop):
                    return
            _put(q, _END, stop)
        except BaseException as exc:
            _put(q, _Failed(exc), stop)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundConsumer(Generic[T]):
    """Runs ``handle`` on each item in a thread, with at most ``maxsize`` items waiting.

    ``close`` waits for the queued items; the first error of ``handle`` stops the thread and is
    re-raised by the next ``put`` or by ``close``. ``abandon`` lets the item in hand finish and
    drops the waiting ones.
    """

    def __init__(self, handle: Callable[[T], None], *, maxsize: int, name: str) -> None:
        self._handle = handle
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._consume, name=name, daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._handle(item)
            except BaseException as exc:
                self._error = exc
                self._stop.set()
                return

    def put(self, item: T) -> None:
        if not _put(self._queue, item, self._stop):
            self._raise()

    def close(self) -> None:
        _put(self._queue, _END, self._stop)
        self._thread.join()
        self._raise()

    def abandon(self, timeout: float) -> bool:
        """Finish the item in hand (waiting at most ``timeout`` seconds), drop the others;
        True when the thread is done."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


class Worker:
    """Runs ``work`` in a daemon thread while the calling thread waits in :meth:`wait`, which
    Ctrl-C and SIGTERM interrupt at once (a thread inside a long native call, a forward pass,
    would not see them for minutes). An abandoned worker ends with the process."""

    def __init__(self, work: Callable[[], None], *, name: str) -> None:
        self._work = work
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:
            self._error = exc

    def wait(self) -> None:
        """Wait for the work to end; re-raise its error (in every thread that waits)."""
        while self._thread.is_alive():
            self._thread.join(_POLL)
        if self._error is not None:
            raise self._error

    def join(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds, raising nothing; True when the work is done."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
