"""The registry of converters: which library turns which format into text, and its version."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

EXTRA_HINT = "pip install 'harrier-suite[documents]'"


class Unconvertible(Exception):
    """A file that cannot be converted; ``args[0]`` is the skip reason (``kind: detail``)."""


@dataclass
class Conversion:
    """What a converter returns: the text in pieces (pages or blocks, joined by a blank line)
    and a title (file metadata, else set by ``pieces`` at the first heading it meets).
    ``paged``: each piece is one page (PDF) or slide (PPTX)."""

    pieces: Iterable[str]
    title: str | None = None
    paged: bool = False


@dataclass(frozen=True)
class Converter:
    """One format's converter: ``function`` (``module:name``) reads a binary stream."""

    format: str
    name: str
    function: str
    requires: tuple[str, ...]
    extensions: tuple[str, ...]
    max_bytes: int | None = None

    def missing(self) -> str | None:
        """The first required package that is not installed, or None."""
        return next((m for m in self.requires if importlib.util.find_spec(m) is None), None)

    @property
    def identity(self) -> str:
        """``name version``: part of a converted document's hash, so an upgrade re-converts."""
        return f"{self.name} {_version(self.name)}"

    def load(self) -> Callable[[BinaryIO], Conversion]:
        module, _, name = self.function.partition(":")
        function: Callable[[BinaryIO], Conversion] = getattr(importlib.import_module(module), name)
        return function


@cache
def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_HTML_LIMIT = 16 * 2**20
CONVERTERS: dict[str, Converter] = {
    c.format: c
    for c in (
        Converter("pdf", "pypdf", "harrier.sources.convert.pdf:convert_pdf", ("pypdf",), (".pdf",)),
        Converter(
            "docx",
            "python-docx",
            "harrier.sources.convert.office:convert_docx",
            ("docx",),
            (".docx",),
        ),
        Converter(
            "pptx",
            "python-pptx",
            "harrier.sources.convert.office:convert_pptx",
            ("pptx",),
            (".pptx",),
        ),
        Converter(
            "xlsx",
            "openpyxl",
            "harrier.sources.convert.office:convert_xlsx",
            ("openpyxl",),
            (".xlsx",),
        ),
        *(
            Converter(
                fmt,
                "odfdo",
                f"harrier.sources.convert.opendocument:convert_{fmt}",
                ("odfdo",),
                (f".{fmt}",),
            )
            for fmt in ("odt", "odp", "ods")
        ),
        Converter(
            "html",
            "trafilatura",
            "harrier.sources.convert.web:convert_html",
            ("trafilatura", "lxml_html_clean"),
            (".html", ".htm", ".xhtml"),
            _HTML_LIMIT,
        ),
        Converter(
            "epub",
            "ebooklib",
            "harrier.sources.convert.web:convert_epub",
            ("ebooklib", "trafilatura", "lxml_html_clean"),
            (".epub",),
        ),
    )
}
"""Every converter by format. Markdown and plain text need none: they are read as UTF-8."""

BY_EXTENSION = {ext: c.format for c in CONVERTERS.values() for ext in c.extensions}


def check_convertible(fmt: str, size: int) -> Converter:
    """The converter of ``fmt``, or :class:`Unconvertible` naming the extra or the size limit."""
    converter = CONVERTERS[fmt]
    if (package := converter.missing()) is not None:
        raise Unconvertible(
            f"needs the documents extra: {EXTRA_HINT} to read {fmt.upper()} "
            f"files ({package} is not installed)"
        )
    if converter.max_bytes is not None and size > converter.max_bytes:
        raise Unconvertible(
            f"too large to convert: {size / 2**20:.1f} MiB of {fmt.upper()}, "
            f"over the {converter.max_bytes / 2**20:g} MiB limit"
        )
    return converter
