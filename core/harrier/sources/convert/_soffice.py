"""Where LibreOffice's ``soffice`` is, and its version: the converter of legacy Office files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

INSTALL_HINT = (
    "install LibreOffice (apt install libreoffice-nogui, brew install --cask libreoffice, "
    "or libreoffice.org)"
)
_PLACES = (
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
)
_VERSION = re.compile(r"LibreOffice\s+(\S+)")


def program() -> str | None:
    """The ``soffice`` program on PATH (or where the macOS and Windows installers put it)."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    return found or next((place for place in _PLACES if os.path.isfile(place)), None)


@cache
def version() -> str:
    """LibreOffice's version (``7.4.7.2``), part of a converted document's hash; ``unknown``
    where ``soffice --version`` does not say it."""
    path = program()
    if path is None:
        return "unknown"
    try:
        printed = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = _VERSION.search(printed)
    return match.group(1) if match else "unknown"
