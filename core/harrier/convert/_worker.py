"""Conversion in a child process with a time limit: a hung, crashing or memory-hungry converter
costs one file (skipped with its reason), never the run."""

from __future__ import annotations

import io
import logging
import multiprocessing
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harrier.convert._registry import CONVERTERS, Unconvertible

logger = logging.getLogger("harrier")

_PAGE_SEPARATOR = "\n\n"


def _context() -> Any:
    """A forkserver (Linux, macOS): the server imports the converters once, then each worker
    is a cheap fork of it that shares no threads with the caller. Spawn elsewhere."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class ConversionWorker:
    """Converts one file at a time in a child process (started on first use, restarted after a
    timeout or a crash). Pages stream back one message each, so the child holds one page."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._process: Any = None
        self._conn: Connection | None = None

    def convert(self, fmt: str, source: Path | bytes) -> tuple[str, str | None, tuple[int, ...]]:
        """``(text, title, page start offsets)`` of ``source`` (a path or the file's bytes);
        the offsets are empty unless the format is paged. Raises :class:`Unconvertible`."""
        conn = self._start()
        conn.send((fmt, source))
        pieces: list[str] = []
        deadline = time.monotonic() + self.timeout
        while True:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                self.close(kill=True)
                raise Unconvertible(f"conversion timed out: over {self.timeout:g} s "
                                    "(the limit is convert_timeout)")
            try:
                kind, value = conn.recv()
            except (EOFError, OSError) as exc:
                code = self._process.exitcode if self._process is not None else None
                self.close(kill=True)
                raise Unconvertible(f"conversion failed: the converter process died "
                                    f"(exit code {code})") from exc
            if kind == "piece":
                pieces.append(value)
            elif kind == "skip":
                raise Unconvertible(value)
            else:
                title, paged = value
                text, starts = _joined(pieces, paged)
                return text, title, starts

    def _start(self) -> Connection:
        if self._conn is None:
            context = _context()
            self._conn, child = context.Pipe()
            self._process = context.Process(target=_serve, args=(child,), daemon=True,
                                            name="harrier-convert")
            self._process.start()
            child.close()
        return self._conn

    def close(self, kill: bool = False) -> None:
        """Stop the child: ask it to exit, or kill it (after a timeout or a crash)."""
        if self._conn is None:
            return
        if not kill:
            try:
                self._conn.send(None)
            except OSError:
                kill = True
        self._process.join(timeout=None if not kill else 0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        self._conn = self._process = None


def _joined(pieces: list[str], paged: bool) -> tuple[str, tuple[int, ...]]:
    """The pieces joined by a blank line, and each piece's start offset when they are pages."""
    starts, offset = [], 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece) + len(_PAGE_SEPARATOR)
    return _PAGE_SEPARATOR.join(pieces), tuple(starts) if paged else ()


def _serve(conn: Connection) -> None:
    """The child's loop: one request ``(format, path or bytes)`` at a time until None."""
    while (request := conn.recv()) is not None:
        fmt, source = request
        try:
            with (open(source, "rb") if isinstance(source, Path)
                  else io.BytesIO(source)) as stream:
                conversion = CONVERTERS[fmt].load()(stream)
                for piece in conversion.pieces:
                    conn.send(("piece", piece.strip()))
            conn.send(("done", (conversion.title, conversion.paged)))
        except Unconvertible as exc:
            conn.send(("skip", str(exc)))
        except OSError as exc:
            conn.send(("skip", f"cannot read: {exc.strerror or exc}"))
        except Exception as exc:  # a converter's own failure on a malformed file
            conn.send(("skip", f"conversion failed: {type(exc).__name__}: {exc}"))
