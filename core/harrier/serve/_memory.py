"""Give freed memory back to the system after large requests (glibc keeps it otherwise).

A 10 MB body passes through a few buffers of its size (the bytes, the decoded text, the parsed
string); once freed, glibc keeps those pages in its heaps for reuse, so a burst of large
requests would leave the server's resident memory high for good. ``malloc_trim(0)`` returns
them. It runs in a worker thread, at most once per ``interval`` seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from typing import Any

logger = logging.getLogger("harrier")

LARGE_BODY = 1 << 20
"""Requests with a body at least this large are followed by a trim."""


def _libc_trim() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class MemoryReleaser:
    """Calls ``malloc_trim(0)`` in a thread after large requests, rate-limited."""

    def __init__(self, interval: float = 1.0) -> None:
        self._trim = _libc_trim()
        self._interval = interval
        self._last = 0.0
        self._lock = threading.Lock()

    def after_request(self, body_bytes: int) -> None:
        """Note a finished request; schedule a trim if it was large and none ran lately."""
        if self._trim is None or body_bytes < LARGE_BODY:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._interval:
                return
            self._last = now
        threading.Thread(target=self._trim, args=(0,), name="harrier-trim", daemon=True).start()
