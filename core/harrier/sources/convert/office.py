"""Word, PowerPoint and Excel files to text: python-docx, python-pptx and openpyxl.

Headings become Markdown headings (``#``), tables become rows of cells split by `` | ``, each
slide of a deck is one page (slide numbers are page numbers), each sheet a section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from harrier.sources.convert._registry import Conversion, Unconvertible

_HEADING = re.compile(r"Heading (\d)")


_WORD_MAIN = (
    "application/vnd.ms-word.document.macroEnabled.main+xml",  # .docm
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",  # .dotx
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",  # .dotm
)
"""Word's main parts besides a .docx's, which python-docx reads alike but refuses to open."""


def convert_docx(stream: BinaryIO) -> Conversion:
    """One piece per paragraph or table, in document order (also .docm, .dotx and .dotm)."""
    from docx.opc.part import PartFactory
    from docx.package import Package
    from docx.parts.document import DocumentPart
    from docx.table import Table

    for content_type in _WORD_MAIN:
        PartFactory.part_type_for.setdefault(content_type, DocumentPart)
    main = Package.open(stream).main_document_part
    if not isinstance(main, DocumentPart):
        raise Unconvertible(f"not a Word document: its main part is {main.content_type}")
    document = main.document
    conversion = Conversion((), document.core_properties.title or None)

    def blocks() -> Iterator[str]:
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                yield _rows(_word_cells(row) for row in block.rows)
                continue
            text = block.text.strip()
            style = block.style.name if block.style is not None else ""
            level = (
                1 if style == "Title" else int(m.group(1)) if (m := _HEADING.match(style)) else 0
            )
            if text and level:
                conversion.title = conversion.title or text
                text = "#" * level + " " + text
            if text:
                yield text

    conversion.pieces = blocks()
    return conversion


def _word_cells(row: Any) -> tuple[str, ...]:
    """A Word table row's cell texts, a cell merged across columns once (python-docx gives it
    for each column it spans)."""
    cells = row.cells
    return tuple(
        cell.text for at, cell in enumerate(cells) if at == 0 or cell._tc is not cells[at - 1]._tc
    )


def convert_pptx(stream: BinaryIO) -> Conversion:
    """One page per slide: its title as a heading, then the text of its shapes and notes."""
    from pptx import Presentation

    deck = Presentation(stream)
    conversion = Conversion((), deck.core_properties.title or None, paged=True)

    def slides() -> Iterator[str]:
        for slide in deck.slides:
            title_shape = slide.shapes.title
            title = title_shape.text_frame.text.strip() if title_shape is not None else ""
            if title:
                conversion.title = conversion.title or title
            lines = [f"## {title}"] if title else []
            title_id = title_shape.shape_id if title_shape is not None else None
            for shape in slide.shapes:
                if shape.shape_id != title_id:
                    lines.extend(_shape_text(shape))
            if slide.has_notes_slide:
                lines.append(slide.notes_slide.notes_text_frame.text.strip())
            yield "\n".join(line for line in lines if line)

    conversion.pieces = slides()
    return conversion


def _shape_text(shape: Any) -> Iterator[str]:
    if shape.has_text_frame:
        yield shape.text_frame.text.strip()
    elif getattr(shape, "has_table", False) and shape.has_table:
        yield _rows(tuple(c.text for c in row.cells) for row in shape.table.rows)
    elif hasattr(shape, "shapes"):  # a group
        for inner in shape.shapes:
            yield from _shape_text(inner)


def convert_xlsx(stream: BinaryIO) -> Conversion:
    """One piece per sheet, read in streaming mode: a heading with the sheet's name, then one
    line per row that holds a value (cached values of formulas, not the formulas)."""
    import openpyxl

    book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    conversion = Conversion((), book.properties.title or None)

    def sheets() -> Iterator[str]:
        try:
            for sheet in book.worksheets:
                rows = (
                    tuple("" if v is None else str(v) for v in row)
                    for row in sheet.iter_rows(values_only=True)
                )
                yield f"## {sheet.title}\n" + _rows(rows)
        finally:
            book.close()

    conversion.pieces = sheets()
    return conversion


def _rows(rows: Iterable[tuple[str, ...]]) -> str:
    lines = (" | ".join(cell.strip() for cell in row).rstrip(" |") for row in rows)
    return "\n".join(line for line in lines if line)
