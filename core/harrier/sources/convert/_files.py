"""Files whose text comes from a converter: hashed from their bytes, converted only if changed."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harrier.sources._validation import printable, replace_surrogates
from harrier.sources.convert._registry import CONVERTERS, Unconvertible
from harrier.sources.convert._worker import ConversionWorker, kill_group

logger = logging.getLogger("harrier")

CONVERT_TIMEOUT = 120.0
"""Seconds one file may take to convert before it is skipped."""

_CHUNK = 2**20


@dataclass(frozen=True)
class ConvertedFile:
    """A document whose text is produced on demand by the converter of ``format``.

    Its hash input is its raw bytes and the converter's name and version, so deciding that it
    is unchanged costs one read of the file and no conversion. ``data`` holds the bytes when the
    file travels to another machine (Ray).
    """

    id: str
    path: Path
    format: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None

    def hash_input(self) -> str:
        """What stands for the text in the document hash: converter identity and byte digest."""
        digest = hashlib.sha256()
        if self.data is not None:
            digest.update(self.data)
        else:
            with self.path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        return f"{CONVERTERS[self.format].identity} sha256:{digest.hexdigest()}"

    def with_data(self) -> ConvertedFile:
        """This file with its bytes in memory."""
        return replace(self, data=self.path.read_bytes())


class FileConverter:
    """Turns :class:`ConvertedFile` into text, in a worker process with a per-file time limit."""

    def __init__(self, timeout: float = CONVERT_TIMEOUT) -> None:
        self.worker = ConversionWorker(timeout)
        self._saved: dict[str, bytes] = {}
        self._batch: subprocess.Popen[bytes] | None = None  # prefetch's LibreOffice run
        self._killed = False

    def prefetch(self, files: Iterable[ConvertedFile]) -> None:
        """Before ``files`` are converted: have LibreOffice save the small legacy ones (two or
        more of a format) as their modern format, up to ``legacy.BATCH`` per run, where one run
        each would cost a second apiece. :meth:`convert` reads them from memory then; a file
        a run could not save converts on its own, as without this."""
        from harrier.sources.convert import legacy

        by_format: dict[str, list[ConvertedFile]] = {}
        for file in files:
            if CONVERTERS[file.format].via is not None and file.size <= legacy.BATCH_FILE_BYTES:
                by_format.setdefault(file.format, []).append(file)
        self._saved = {}
        for fmt, group in by_format.items():
            if len(group) < 2:
                continue  # alone: saved in the worker, as without this
            for start in range(0, len(group), legacy.BATCH):
                if self._killed:
                    return
                batch = group[start : start + legacy.BATCH]
                self._saved.update(
                    legacy.save_batch(fmt, batch, self.worker.timeout, self._running)
                )

    def convert(self, file: ConvertedFile) -> tuple[str, dict[str, Any], tuple[int, ...]]:
        """``(text, metadata, page starts)``: the metadata adds the title and the format.
        Raises :class:`Unconvertible` with the reason to skip the file."""
        if self._killed:
            raise Unconvertible("stopped: the run was interrupted")
        saved = self._saved.pop(file.id, None)
        text, title, pages = (
            self.worker.convert(str(CONVERTERS[file.format].via), saved)
            if saved is not None
            else self.worker.convert(file.format, file.data if file.data is not None else file.path)
        )
        text, replaced = replace_surrogates(text)
        if replaced:
            logger.warning(
                "%s: the converter gave %d lone surrogates (not valid Unicode); each was "
                "replaced by U+FFFD",
                printable(file.id),
                replaced,
            )
        if not text.strip():
            raise Unconvertible(
                f"empty or whitespace only: no text in the {file.format.upper()}"
                " (a scan needs OCR first)"
                if file.format == "pdf"
                else "empty or whitespace only"
            )
        metadata = {
            **file.metadata,
            "title": replace_surrogates(title or file.path.stem)[0],
            "format": file.format,
        }
        if pages:
            metadata["pages"] = len(pages)
        return text, metadata, pages

    def close(self, kill: bool = False) -> None:
        """Stop the worker: ask it to exit, or (``kill``: a run interrupted) kill it and a
        LibreOffice run of :meth:`prefetch`, whatever they are converting; a killed converter
        converts nothing more."""
        if kill:
            self._killed = True
            batch = self._batch
            if batch is not None and batch.poll() is None:
                kill_group(batch)
        self.worker.close(kill=kill)

    def _running(self, process: subprocess.Popen[bytes]) -> None:
        self._batch = process
        if self._killed:  # killed as this run started
            kill_group(process)


def page_range(pages: tuple[int, ...], start: int, text: str) -> dict[str, int]:
    """``page_start`` / ``page_end`` (1-based) of a span of ``text`` at offset ``start``, given
    each page's start offset; whitespace at the span's ends (page breaks) does not count."""
    first = start + len(text) - len(text.lstrip())
    last = max(first, start + len(text.rstrip()) - 1)
    return {"page_start": bisect_right(pages, first), "page_end": bisect_right(pages, last)}
