"""OpenDocument text, presentations and spreadsheets (LibreOffice: ``.odt``, ``.odp``,
``.ods``) to text: odfdo.

As for the Microsoft formats (``office``): headings become Markdown headings, tables rows of
cells split by `` | ``, each slide of a presentation is one page (its title as a heading, then
its text and its notes), each sheet a section headed by its name. A text document has no fixed
pages (its layout decides them), so it is not paged, as DOCX is not.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from harrier.sources.convert._registry import Conversion
from harrier.sources.convert.office import _rows

MAX_REPEAT = 1_000
"""A row or cell repeated more times than this (a spreadsheet's styled blank rows run to a
million) is written this many times."""
_CONTAINERS = frozenset(
    {"text:section", "text:list", "text:list-item", "text:list-header", "text:index-body"}
)
_ROWS = (
    "table:table-row|table:table-header-rows/table:table-row|"
    "table:table-row-group//table:table-row|table:table-rows/table:table-row"
)
_TITLE_FRAME = 'draw:frame[@presentation:class="title"]'
_TITLE = f".//{_TITLE_FRAME}"
_SLIDE_TEXT = f".//text:p[not(ancestor::presentation:notes) and not(ancestor::{_TITLE_FRAME})]"


def convert_odt(stream: BinaryIO) -> Conversion:
    """One piece per paragraph, heading or table, in document order (lists and sections
    read through)."""
    document = _open(stream)
    conversion = Conversion((), _title(document))

    def blocks(element: Any) -> Iterator[str]:
        for child in element.children:
            tag = child.tag
            if tag in _CONTAINERS:
                yield from blocks(child)
            elif tag == "table:table":
                if table := _rows(_table_rows(child)):
                    yield table
            elif tag in ("text:p", "text:h") and (text := _text(child)):
                if tag == "text:h":
                    conversion.title = conversion.title or text
                    level = int(child.get_attribute("text:outline-level") or 1)
                    text = "#" * min(max(level, 1), 6) + " " + text
                yield text

    conversion.pieces = blocks(document.body)
    return conversion


def convert_odp(stream: BinaryIO) -> Conversion:
    """One page per slide: its title as a heading, then the text of its other frames, then its
    speaker notes."""
    document = _open(stream)
    conversion = Conversion((), _title(document), paged=True)

    def slides() -> Iterator[str]:
        for page in document.body.get_draw_pages():
            title = " ".join(t for f in page.xpath(_TITLE) if (t := _text(f)))
            if title:
                conversion.title = conversion.title or title
            lines = [f"## {title}"] if title else []
            lines += [_text(p) for p in page.xpath(_SLIDE_TEXT)]
            lines += [_text(p) for p in page.xpath(".//presentation:notes//text:p")]
            yield "\n".join(line for line in lines if line)

    conversion.pieces = slides()
    return conversion


def convert_ods(stream: BinaryIO) -> Conversion:
    """One piece per sheet: a heading with its name, then one line per row that holds a value
    (as the sheet displays it)."""
    document = _open(stream)
    conversion = Conversion((), _title(document))

    def sheets() -> Iterator[str]:
        for table in document.body.get_tables():
            yield f"## {table.name}\n" + _rows(_table_rows(table))

    conversion.pieces = sheets()
    return conversion


def _open(stream: BinaryIO) -> Any:
    from odfdo import Document

    return Document(io.BytesIO(stream.read()))


def _title(document: Any) -> str | None:
    return (document.meta.title or "").strip() or None


def _text(element: Any) -> str:
    """The text of ``element`` (not of what follows it), each line's runs of spaces as one."""
    lines = (" ".join(line.split()) for line in str(element.inner_text).splitlines())
    return "\n".join(line for line in lines if line)


def _table_rows(table: Any) -> Iterator[tuple[str, ...]]:
    """The rows of a table (header rows and row groups included) that hold a value, repeats
    written out up to :data:`MAX_REPEAT`; nested tables stay inside their cell's text."""
    for row in table.xpath(_ROWS):
        cells: list[str] = []
        for cell in row.xpath("table:table-cell|table:covered-table-cell"):
            text = _text(cell)
            cells += [text] * (_repeat(cell, "table:number-columns-repeated") if text else 1)
        if any(cells):
            yield from [tuple(cells)] * _repeat(row, "table:number-rows-repeated")


def _repeat(element: Any, attribute: str) -> int:
    try:
        return min(max(int(element.get_attribute(attribute) or 1), 1), MAX_REPEAT)
    except ValueError:
        return 1
