"""Which converter a file needs, decided by its content (magic bytes) and its extension."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from harrier.sources.convert._registry import BUILT_IN, BY_EXTENSION, CONVERTERS, Unconvertible

_HTML_START = re.compile(
    rb"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL
)
_OOXML = (("word/", "docx"), ("ppt/", "pptx"), ("xl/", "xlsx"))
_ODF = {
    f"application/vnd.oasis.opendocument.{kind}".encode(): fmt
    for kind, fmt in (("text", "odt"), ("presentation", "odp"), ("spreadsheet", "ods"))
}
_ZIP_FORMATS = ("docx", "pptx", "xlsx", "epub", *_ODF.values())
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_LEGACY_OF = {"docx": "doc", "xlsx": "xls", "pptx": "ppt"}
_OLE_FORMATS = tuple(_LEGACY_OF.values())
"""Formats in an OLE2 container (Office 97-2003), told apart by their extension."""
_BIFF_START = (b"\x09\x00\x04\x00", b"\x09\x02\x06\x00", b"\x09\x04\x06\x00")
"""The BOF record an Excel 2.x, 3.x or 4.x sheet starts with: a bare BIFF stream, no OLE2."""
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream of a password-protected OOXML
_ENCRYPTION_SCAN = 2**20


def detect_format(path: Path, head: bytes, data: bytes | None = None) -> str | None:
    """The format of a file to convert (a key of ``CONVERTERS``), or None for a file read as
    text or skipped as binary. ``head``: its first bytes; ``data``: all of them, when in memory.

    Raises :class:`Unconvertible` when the extension names a document format that the content
    contradicts (a ZIP archive renamed ``.docx``) or the container is corrupt.
    """
    claimed = BY_EXTENSION.get(path.suffix.lower())
    if claimed is not None and claimed not in BUILT_IN:  # a package's format: by its extension
        magic = CONVERTERS[claimed].magic
        if magic and not head.startswith(magic):
            raise Unconvertible(
                f"not a {path.suffix[1:].upper()} file: it does not start as "
                f"{claimed.upper()} files do"
            )
        return claimed
    if b"%PDF-" in head[:1024]:
        found: str | None = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        found = _zip_format(path, data, claimed)
    elif head.startswith(_OLE):
        found = _ole_format(path, head, data, claimed)
    elif head.removeprefix(b"\xef\xbb\xbf").startswith(b"{\\rtf"):
        found = "rtf"
    elif claimed == "xls" and head.startswith(_BIFF_START):
        found = "xls"  # Excel 2.x-4.x (too few bytes to tell it without the extension)
    elif _HTML_START.match(head.removeprefix(b"\xef\xbb\xbf")):
        found = "html"
    else:  # a package's format with magic bytes is known by them too, as harrier's own are
        found = next(
            (f for f, c in CONVERTERS.items() if c.magic and head.startswith(c.magic)), None
        )
    if claimed is None or claimed == found:
        return found
    if claimed in _OLE_FORMATS and found is not None:
        return found  # Word saves RTF, HTML and DOCX under .doc as well: read what it holds
    if found is not None and found == _LEGACY_OF.get(claimed):
        return found  # a Word 97-2003 file named .docx
    if claimed == "html" and found is None and b"\x00" not in head:
        return "html"  # a fragment without <html>: still markup
    what = (
        f"{found.upper()} content"
        if found
        else ("a ZIP archive" if head.startswith(b"PK") else "unrecognised content")
    )
    named = path.suffix[1:].upper()
    raise Unconvertible(f"not a {named} file: {what} behind the {path.suffix} extension")


def _ole_format(path: Path, head: bytes, data: bytes | None, claimed: str | None) -> str | None:
    """An OLE2 container's format: that of its Office 97-2003 extension; behind an OOXML one,
    a password-protected file (Office encrypts a DOCX into an OLE2 ``EncryptedPackage``), or
    else an Office 97-2003 file misnamed (read as one)."""
    if claimed in _OLE_FORMATS:
        return claimed
    if claimed not in _LEGACY_OF:
        return None
    if data is None:
        try:
            with path.open("rb") as stream:
                data = stream.read(_ENCRYPTION_SCAN)
        except OSError:
            data = head
    if _ENCRYPTED in data[:_ENCRYPTION_SCAN]:
        raise Unconvertible(
            f"encrypted: the {path.suffix[1:].upper()} needs a password (save a copy without one)"
        )
    return _LEGACY_OF[claimed]


def _zip_format(path: Path, data: bytes | None, claimed: str | None) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else path) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
            if mimetype == b"application/epub+zip":
                return "epub"
            if mimetype in _ODF:
                return _ODF[mimetype]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        if claimed in _ZIP_FORMATS:
            raise Unconvertible(f"corrupt or truncated file: {exc}") from exc
        return None
    if "[Content_Types].xml" in names:
        for prefix, fmt in _OOXML:
            if any(name.startswith(prefix) for name in names):
                return fmt
    return None
