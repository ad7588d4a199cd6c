"""HTML and EPUB to text: trafilatura keeps an HTML page's main text (navigation, menus and
footers are dropped); an EPUB's chapters are read in reading order with ebooklib."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from harrier.sources.convert._registry import Conversion, Unconvertible


def convert_html(stream: BinaryIO) -> Conversion:
    """The page's main content as Markdown (headings, paragraphs, lists, tables)."""
    import trafilatura

    html = stream.read()
    text = _main_text(html)
    if text is None:
        raise Unconvertible("no main text: the HTML page has no article or body text")
    metadata = trafilatura.extract_metadata(html)
    return Conversion([text], metadata.title if metadata is not None else None)


def _main_text(html: bytes | str) -> str | None:
    import trafilatura

    text: str | None = trafilatura.extract(
        html, output_format="markdown", include_comments=False, include_tables=True
    )
    if not text:  # very short pages: take every text node rather than nothing
        text = trafilatura.html2txt(html) or None
    return text


def convert_epub(stream: BinaryIO) -> Conversion:
    """One piece per chapter (the spine's documents in reading order)."""
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(stream.read()), options={"ignore_ncx": True})
    except (epub.EpubException, KeyError) as exc:
        raise Unconvertible(f"corrupt or truncated file: {exc}") from exc
    titles = book.get_metadata("DC", "title")

    def chapters() -> Iterator[str]:
        for item_id, _linear in book.spine:
            item = book.get_item_with_id(item_id)
            if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
                text = _main_text(item.get_content())
                if text:
                    yield text

    return Conversion(chapters(), titles[0][0] if titles else None)
