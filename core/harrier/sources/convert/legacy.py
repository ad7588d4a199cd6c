"""Legacy Word, Excel and PowerPoint files (97-2003: ``.doc``, ``.xls``, ``.ppt``) and RTF:
LibreOffice, run headless, saves each as DOCX, XLSX or PPTX, which is then read as those are
(headings, tables, one page per slide). A run of LibreOffice costs about a second to start, so
the files of a group are saved in one run (:func:`save_batch`) before their conversion; a file
alone, or one that run could not save, is saved in the conversion worker (:func:`convert_doc`
and the others), whose time limit ends LibreOffice with it."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from harrier.sources.convert import _soffice
from harrier.sources.convert._protection import is_encrypted
from harrier.sources.convert._registry import CONVERTERS, Conversion, Unconvertible, no_libreoffice
from harrier.sources.convert._worker import kill_group

if TYPE_CHECKING:
    from harrier.sources.convert._files import ConvertedFile

logger = logging.getLogger("harrier")

_READ_AS = {
    "doc": ("MS Word 97", "Word 97-2003"),
    "xls": ("MS Excel 97", "Excel 97-2003"),
    "ppt": ("MS PowerPoint 97", "PowerPoint 97-2003"),
    "rtf": ("Rich Text Format", "RTF"),
}
"""LibreOffice's import filter of each format (never its guess: random bytes would pass as
text) and the format's name in a skip reason."""
_ONE_RUN = threading.Lock()  # runs of this process share its profile: one at a time
BATCH = 16
"""Files saved in one run of LibreOffice at most (16 small ones take about 1.4 s in one run,
against 0.8 s each in runs of their own)."""
BATCH_FILE_BYTES = 2 * 2**20
"""Larger files are saved in runs of their own: their conversion outweighs the start, and a
run of large files would near the time limit."""


def _convert(fmt: str, stream: BinaryIO) -> Conversion:
    """One file, in the conversion worker."""
    target = CONVERTERS[fmt].via
    assert target is not None
    with tempfile.TemporaryDirectory(prefix="harrier-convert-") as work:
        source = Path(work, f"document.{fmt}")
        with source.open("wb") as copy:
            shutil.copyfileobj(stream, copy)
        [saved] = save_modern(fmt, [source], Path(work, "out"))
        if saved is None and is_encrypted(fmt, source):
            raise Unconvertible(
                f"encrypted: the {fmt.upper()} needs a password (save a copy without one)"
            )
        if saved is None:  # LibreOffice says "could not be loaded" and exits 0
            raise Unconvertible(
                f"conversion failed: LibreOffice could not read it as {_READ_AS[fmt][1]} "
                f"(damaged, protected by a password, or an older version: save it as "
                f"{target.upper()})"
            )
        data = saved.read_bytes()
    return CONVERTERS[target].load()(io.BytesIO(data))


def save_batch(
    fmt: str,
    files: Sequence[ConvertedFile],
    timeout: float,
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> dict[str, bytes]:
    """The modern format's bytes of each of ``files`` (all of ``fmt``) by id, saved in one run
    of LibreOffice; a file it could not read or that could not be copied is left out, and so
    is every file of a run that takes over ``timeout`` seconds (then killed). ``started`` gets
    the run's process as it starts (to kill it on Ctrl-C)."""
    with tempfile.TemporaryDirectory(prefix="batch-", dir=_scratch().name) as work:
        sources: dict[str, Path] = {}
        for number, file in enumerate(files):
            source = Path(work, f"{number}.{fmt}")
            try:
                if file.data is not None:
                    source.write_bytes(file.data)
                else:
                    shutil.copyfile(file.path, source)
            except OSError:
                continue  # its own conversion says why
            sources[file.id] = source
        try:
            with _ONE_RUN:
                saved = save_modern(
                    fmt, list(sources.values()), Path(work, "out"), timeout, started
                )
        except subprocess.TimeoutExpired:
            logger.warning(
                "LibreOffice took over %g s for %d %s files: converting them one by one",
                timeout,
                len(sources),
                fmt.upper(),
            )
            return {}
        except Unconvertible:  # LibreOffice gone since the folder was read: each file says so
            return {}
        return {
            doc_id: path.read_bytes()
            for doc_id, path in zip(sources, saved, strict=True)
            if path is not None
        }


def save_modern(
    fmt: str,
    sources: list[Path],
    folder: Path,
    timeout: float | None = None,
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> list[Path | None]:
    """Have LibreOffice save ``sources`` (files of ``fmt`` with distinct names) in ``folder``
    in the modern format, in one run: the path of each, or None where it could not read one.
    With ``timeout``, LibreOffice runs in a process group of its own, killed after that many
    seconds (``subprocess.TimeoutExpired``) or when the wait is interrupted; without, in the
    caller's group (the worker's, whose time limit ends it)."""
    converter = CONVERTERS[fmt]
    program, target = _soffice.program(), converter.via
    if program is None:
        raise no_libreoffice(converter)
    process = subprocess.Popen(
        [
            program,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={Path(_scratch().name, 'profile').as_uri()}",
            f"--infilter={_READ_AS[fmt][0]}",
            "--convert-to",
            str(target),
            "--outdir",
            str(folder),
            *map(str, sources),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=timeout is not None,
    )
    if started is not None:
        started(process)
    try:
        process.wait(timeout)
    except BaseException:  # over time, or Ctrl-C: never left running
        kill_group(process)
        raise
    saved = (folder / f"{source.stem}.{target}" for source in sources)
    return [path if path.is_file() else None for path in saved]


@cache
def _scratch() -> tempfile.TemporaryDirectory[str]:
    """This process's folder for LibreOffice, removed at exit: its profile (two runs converting
    at once must not share one, and a fresh one per run would cost a second more each) and the
    copies of a batch's files."""
    return tempfile.TemporaryDirectory(prefix="harrier-libreoffice-")


def remove_scratch() -> None:
    """Remove this process's LibreOffice folder now, before an exit that runs no clean-up
    (the command line's immediate exit on Ctrl-C), even while a batch is still in it."""
    if _scratch.cache_info().currsize:
        shutil.rmtree(_scratch().name, ignore_errors=True)


convert_doc = partial(_convert, "doc")
convert_xls = partial(_convert, "xls")
convert_ppt = partial(_convert, "ppt")
convert_rtf = partial(_convert, "rtf")
