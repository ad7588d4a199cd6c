"""The registry of converters: which library turns which format into text, and its version."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

from harrier.sources.convert import _soffice

logger = logging.getLogger("harrier")

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
    """One format's converter: ``function`` (``module:name``) reads a binary stream.
    ``via``: the format that LibreOffice saves the file as first, to be read as that is.
    ``revision``: of harrier's reading of the format; raised when that changes what a file
    converts to, so that stored documents are converted again. ``magic``: for a converter of
    a package outside harrier (``harrier.converters`` entry point), the first bytes of its
    format; a file with one of its ``extensions`` that starts with none of them is skipped
    as not of the format, and a file of another or no extension that starts with one of them
    is of it (none given: the extension alone decides)."""

    format: str
    name: str
    function: str
    requires: tuple[str, ...]
    extensions: tuple[str, ...]
    max_bytes: int | None = None
    via: str | None = None
    revision: int = 1
    magic: tuple[bytes, ...] = ()

    def missing(self) -> str | None:
        """The first required package that is not installed, or None."""
        return next((m for m in self.requires if importlib.util.find_spec(m) is None), None)

    @property
    def identity(self) -> str:
        """``name version``: part of a converted document's hash, so an upgrade re-converts."""
        if self.via is not None:
            return f"{self.name} {_soffice.version()} + {CONVERTERS[self.via].identity}"
        revised = f" r{self.revision}" if self.revision > 1 else ""
        return f"{self.name} {_version(self.name)}{revised}"

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
_MODERN = {
    c.format: c
    for c in (
        Converter("pdf", "pypdf", "harrier.sources.convert.pdf:convert_pdf", ("pypdf",), (".pdf",)),
        Converter(
            "docx",
            "python-docx",
            "harrier.sources.convert.office:convert_docx",
            ("docx",),
            (".docx", ".docm", ".dotx", ".dotm"),
            revision=2,  # 2: a cell merged across columns is read once
        ),
        Converter(
            "pptx",
            "python-pptx",
            "harrier.sources.convert.office:convert_pptx",
            ("pptx",),
            (".pptx", ".pptm"),
        ),
        Converter(
            "xlsx",
            "openpyxl",
            "harrier.sources.convert.office:convert_xlsx",
            ("openpyxl",),
            (".xlsx", ".xlsm"),
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
_LEGACY = {
    fmt: Converter(
        fmt,
        "LibreOffice",
        f"harrier.sources.convert.legacy:convert_{fmt}",
        _MODERN[via].requires,
        extensions,
        via=via,
    )
    for fmt, via, extensions in (
        ("doc", "docx", (".doc", ".dot")),
        ("xls", "xlsx", (".xls", ".xlt")),
        ("ppt", "pptx", (".ppt", ".pps", ".pot")),
        ("rtf", "docx", (".rtf",)),
    )
}
CONVERTERS: dict[str, Converter] = {**_MODERN, **_LEGACY}
"""Every converter by format, harrier's and those that packages add (:func:`add_plugins`).
Markdown and plain text need none: they are read as UTF-8."""
BUILT_IN = frozenset(CONVERTERS)

BY_EXTENSION = {ext: c.format for c in CONVERTERS.values() for ext in c.extensions}
ENTRY_POINT_GROUP = "harrier.converters"


def add_plugins() -> None:
    """Add the converters that installed packages declare under :data:`ENTRY_POINT_GROUP`,
    each a :class:`Converter` (docs/writing-a-converter.md). One that fails to load, is not a
    ``Converter``, or claims a format or extension already taken is left out with a warning:
    harrier's own converters always win."""
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            converter = point.load()
        except Exception as exc:  # a broken package must not stop harrier
            logger.warning("converter %r (%s) failed to load: %s", point.name, point.value, exc)
            continue
        if not isinstance(converter, Converter):
            logger.warning(
                "converter %r (%s) is a %s, not a harrier.sources.convert.Converter: left out",
                point.name,
                point.value,
                type(converter).__name__,
            )
            continue
        problem = _conflict(converter)
        if problem is not None:
            logger.warning("converter %r (%s) left out: %s", point.name, point.value, problem)
            continue
        CONVERTERS[converter.format] = converter
        BY_EXTENSION.update({ext.lower(): converter.format for ext in converter.extensions})


_MIN_MAGIC = 2
"""Shorter magic would claim too many files of other kinds (magic is checked on any file)."""


def _conflict(converter: Converter) -> str | None:
    """Why a package's converter cannot be added, or None."""
    taken = [ext for ext in converter.extensions if ext.lower() in BY_EXTENSION]
    if taken:
        return f"the extensions {taken} are taken"
    if not converter.extensions:
        return "it names no extension"
    if converter.format in CONVERTERS:
        return f"the format {converter.format!r} is taken"
    if any(not isinstance(m, bytes) or len(m) < _MIN_MAGIC for m in converter.magic):
        return f"its magic must be bytes of {_MIN_MAGIC} or more each, not {converter.magic!r}"
    return None


def check_convertible(fmt: str, size: int) -> Converter:
    """The converter of ``fmt``, or :class:`Unconvertible` naming the extra or the size limit."""
    converter = CONVERTERS[fmt]
    if (package := converter.missing()) is not None:
        raise Unconvertible(
            f"needs the documents extra: {EXTRA_HINT} to read {fmt.upper()} "
            f"files ({package} is not installed)"
        )
    if converter.via is not None and _soffice.program() is None:
        raise no_libreoffice(converter)
    if converter.max_bytes is not None and size > converter.max_bytes:
        raise Unconvertible(
            f"too large to convert: {size / 2**20:.1f} MiB of {fmt.upper()}, "
            f"over the {converter.max_bytes / 2**20:g} MiB limit"
        )
    return converter


def no_libreoffice(converter: Converter) -> Unconvertible:
    """The skip of a file that LibreOffice must convert, where it is not installed."""
    return Unconvertible(
        f"needs LibreOffice to read {converter.format.upper()} files: {_soffice.INSTALL_HINT}, "
        f"or save the file as {str(converter.via).upper()}"
    )
