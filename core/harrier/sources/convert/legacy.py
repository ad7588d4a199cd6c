"""Legacy Word, Excel and PowerPoint files (97-2003: ``.doc``, ``.xls``, ``.ppt``) and RTF:
LibreOffice, run headless, saves each as DOCX, XLSX or PPTX, which is then read as those are
(headings, tables, one page per slide). Runs in the conversion worker, whose time limit ends
LibreOffice with it."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from functools import cache, partial
from pathlib import Path
from typing import BinaryIO

from harrier.sources.convert import _soffice
from harrier.sources.convert._registry import CONVERTERS, Conversion, Unconvertible, no_libreoffice

_READ_AS = {
    "doc": ("MS Word 97", "Word 97-2003"),
    "xls": ("MS Excel 97", "Excel 97-2003"),
    "ppt": ("MS PowerPoint 97", "PowerPoint 97-2003"),
    "rtf": ("Rich Text Format", "RTF"),
}
"""LibreOffice's import filter of each format (never its guess: random bytes would pass as
text) and the format's name in a skip reason."""


def _convert(fmt: str, stream: BinaryIO) -> Conversion:
    converter = CONVERTERS[fmt]
    target, program = converter.via, _soffice.program()
    assert target is not None
    if program is None:
        raise no_libreoffice(converter)
    import_filter, name = _READ_AS[fmt]
    with tempfile.TemporaryDirectory(prefix="harrier-convert-") as work:
        source = Path(work, f"document.{fmt}")
        with source.open("wb") as copy:
            shutil.copyfileobj(stream, copy)
        subprocess.run(
            [
                program,
                "--headless",
                "--norestore",
                "--nolockcheck",
                f"-env:UserInstallation={Path(_profile_folder().name).as_uri()}",
                f"--infilter={import_filter}",
                "--convert-to",
                target,
                "--outdir",
                str(Path(work, "out")),
                str(source),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        converted = Path(work, "out", f"document.{target}")
        if not converted.is_file():  # LibreOffice says "could not be loaded" and exits 0
            raise Unconvertible(
                f"conversion failed: LibreOffice could not read it as {name} (damaged, "
                f"protected by a password, or an older version: save it as {target.upper()})"
            )
        data = converted.read_bytes()
    return CONVERTERS[target].load()(io.BytesIO(data))


@cache
def _profile_folder() -> tempfile.TemporaryDirectory[str]:
    """This process's own LibreOffice profile, removed at exit: two runs converting at once
    must not share one, and a fresh one per file would cost a second each."""
    return tempfile.TemporaryDirectory(prefix="harrier-libreoffice-")


convert_doc = partial(_convert, "doc")
convert_xls = partial(_convert, "xls")
convert_ppt = partial(_convert, "ppt")
convert_rtf = partial(_convert, "rtf")
