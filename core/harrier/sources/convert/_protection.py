"""Whether an Office 97-2003 file is protected by a password, read from its OLE2 streams
(olefile, from the ``documents`` extra): asked when LibreOffice could not read a file, so that
its skip says why. Not before: LibreOffice reads the files encrypted with the formats' default
passwords (Excel's "VelvetSweatshop" opens without asking), which carry the same marks.

- ``.doc``: the ``fEncrypted`` flag of the File Information Block, at the start of the
  ``WordDocument`` stream ([MS-DOC] 2.5.2);
- ``.xls``: a ``FILEPASS`` record among the first records of the ``Workbook`` (``Book`` for
  Excel 5/95) stream ([MS-XLS] 2.4.117);
- ``.ppt``: the ``EncryptedSummary`` stream, which an encrypted presentation has in place of
  its summary ([MS-PPT] 2.1.3).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

_WORD_ENCRYPTED = 0x0100
_FILEPASS = 0x002F
_BOUNDSHEET = 0x0085  # the first sheet's record: FILEPASS comes before it
_RECORDS = 64


def is_encrypted(fmt: str, source: Path | bytes) -> bool:
    """Whether ``source`` (a ``doc``, ``xls`` or ``ppt`` file, by path or bytes) needs a
    password. False where olefile is not installed or the container cannot be read (then
    LibreOffice says what it can)."""
    try:
        import olefile
    except ImportError:
        return False
    try:
        ole = olefile.OleFileIO(str(source) if isinstance(source, Path) else io.BytesIO(source))
    except Exception:  # not a readable OLE2 container: damaged, or truncated
        return False
    try:
        return _CHECKS.get(fmt, lambda ole: False)(ole)
    except Exception:  # a damaged stream
        return False
    finally:
        ole.close()


def _word(ole: Any) -> bool:
    if not ole.exists("WordDocument"):
        return False
    fib = ole.openstream("WordDocument").read(12)
    return len(fib) == 12 and bool(struct.unpack_from("<H", fib, 10)[0] & _WORD_ENCRYPTED)


def _excel(ole: Any) -> bool:
    stream = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
    if stream is None:
        return False
    data = ole.openstream(stream).read(16_384)
    at = 0
    for _ in range(_RECORDS):
        if at + 4 > len(data):
            break
        record, length = struct.unpack_from("<HH", data, at)
        if record == _FILEPASS:
            return True
        if record == _BOUNDSHEET:
            break
        at += 4 + length
    return False


def _powerpoint(ole: Any) -> bool:
    return bool(ole.exists("EncryptedSummary"))


_CHECKS = {"doc": _word, "xls": _excel, "ppt": _powerpoint}
