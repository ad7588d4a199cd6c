"""PDF to text with pypdf, page by page: page numbers come from the page boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from harrier.sources.convert._registry import Conversion, Unconvertible


def convert_pdf(stream: BinaryIO) -> Conversion:
    """One piece per page. Objects a page resolved are released after it, so memory holds the
    page index and one page, not every page read so far."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(stream)
        if reader.is_encrypted and not reader.decrypt(""):  # "" opens owner-only locks
            raise Unconvertible("encrypted: the PDF needs a password")
        count = len(reader.pages)
        title = reader.metadata.title if reader.metadata else None
    except (FileNotDecryptedError, DependencyError) as exc:
        raise Unconvertible(f"encrypted: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise Unconvertible(f"corrupt or truncated file: {exc}") from exc
    return Conversion(
        _pages(reader, count), str(title).strip() or None if title else None, paged=True
    )


def _pages(reader, count: int) -> Iterator[str]:  # type: ignore[no-untyped-def]
    for number in range(count):
        yield reader.pages[number].extract_text() or ""
        reader.resolved_objects.clear()  # a cache: objects are read again when needed
