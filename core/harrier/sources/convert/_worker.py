"""Conversion in a child process with a time limit: a hung, crashing or memory-hungry converter
costs one file (skipped with its reason), never the run."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from harrier.sources.convert._registry import CONVERTERS, Unconvertible

logger = logging.getLogger("harrier")

_PAGE_SEPARATOR = "\n\n"
_PACKAGE = str(Path(__file__).resolve().parents[2])  # the harrier folder
_BOOT = (
    "import sys, types; package = types.ModuleType('harrier'); "
    "package.__path__ = [sys.argv[1]]; sys.modules['harrier'] = package; "
    "from harrier.sources.convert._worker import serve; serve()"
)
"""The child's start: the converters without ``harrier/__init__`` (no torch: fast to start),
and no re-import of the caller's main module (scripts need no ``__main__`` guard)."""


class ConversionWorker:
    """Converts one file at a time in a child process (started on first use, restarted after a
    timeout or a crash). Pages stream back one message each, so the child holds one page.

    The child's temporary files (a legacy file's copy, LibreOffice's profile and its own
    files) go to a folder of this process (``TMPDIR``), removed when the child ends: a child
    killed on its time limit cannot remove them itself."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: tuple[Connection, Connection] | None = None
        self._scratch: str | None = None

    def convert(self, fmt: str, source: Path | bytes) -> tuple[str, str | None, tuple[int, ...]]:
        """``(text, title, page start offsets)`` of ``source`` (a path or the file's bytes);
        the offsets are empty unless the format is paged. Raises :class:`Unconvertible`."""
        requests, conn = self._start()
        requests.send((fmt, source))
        pieces: list[str] = []
        deadline = time.monotonic() + self.timeout
        while True:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                self.close(kill=True)
                raise Unconvertible(
                    f"conversion timed out: over {self.timeout:g} s (the limit is convert_timeout)"
                )
            try:
                kind, value = conn.recv()
            except (EOFError, OSError) as exc:
                code = self._process.poll() if self._process is not None else None
                self.close(kill=True)
                raise Unconvertible(
                    f"conversion failed: the converter process died (exit code {code})"
                ) from exc
            if kind == "piece":
                pieces.append(value)
            elif kind == "skip":
                raise Unconvertible(value)
            else:
                title, paged = value
                text, starts = _joined(pieces, paged)
                return text, title, starts

    def _start(self) -> tuple[Connection, Connection]:
        if self._conn is None:
            self._scratch = tempfile.mkdtemp(prefix="harrier-convert-")
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, _PACKAGE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # its own group: a kill ends what it started too
                env={**os.environ, "TMPDIR": self._scratch},
            )
            assert self._process.stdin is not None and self._process.stdout is not None
            self._conn = (
                Connection(os.dup(self._process.stdin.fileno()), readable=False),
                Connection(os.dup(self._process.stdout.fileno()), writable=False),
            )
            self._process.stdin.close()
            self._process.stdout.close()
        return self._conn

    def close(self, kill: bool = False) -> None:
        """Stop the child: ask it to exit, or kill it (after a timeout or a crash); then remove
        its temporary files."""
        if self._conn is not None and self._process is not None:
            requests, replies = self._conn
            if not kill:
                try:
                    requests.send(None)
                    self._process.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    kill = True
            if kill:
                kill_group(self._process)
            requests.close()
            replies.close()
            self._conn = self._process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and the programs it started (LibreOffice), which share its group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):  # no killpg on Windows
        process.kill()
    process.wait()


def _joined(pieces: list[str], paged: bool) -> tuple[str, tuple[int, ...]]:
    """The pieces joined by a blank line, and each piece's start offset when they are pages."""
    starts, offset = [], 0
    for piece in pieces:
        starts.append(offset)
        offset += len(piece) + len(_PAGE_SEPARATOR)
    return _PAGE_SEPARATOR.join(pieces), tuple(starts) if paged else ()


def serve() -> None:
    """The child's loop: one request ``(format, path or bytes)`` at a time on stdin, replies
    on stdout, until None or the end of stdin. Stray prints of converters go to stderr.
    Ctrl-C, which a terminal sends to the whole process group, is the parent's to handle (it
    stops the run and this child with it): here it would only print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = Connection(os.dup(0), writable=False)
    conn = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    while True:
        try:
            request = requests.recv()
        except EOFError:  # the parent is gone
            return
        if request is None:
            return
        fmt, source = request
        try:
            stream = (
                open(source, "rb")  # noqa: SIM115 - closed by the with below
                if isinstance(source, Path)
                else io.BytesIO(source)
            )
        except OSError as exc:
            conn.send(("skip", f"cannot read: {exc.strerror or exc}"))
            continue
        try:
            with stream:
                conversion = CONVERTERS[fmt].load()(stream)
                for piece in conversion.pieces:
                    conn.send(("piece", piece.strip()))
            conn.send(("done", (conversion.title, conversion.paged)))
        except Unconvertible as exc:
            conn.send(("skip", str(exc)))
        except Exception as exc:  # a converter's own failure on a malformed file
            conn.send(("skip", f"conversion failed: {type(exc).__name__}: {exc}"))
