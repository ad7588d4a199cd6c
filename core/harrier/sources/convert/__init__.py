"""Document converters: PDF, Word, PowerPoint, Excel, OpenDocument, HTML, EPUB and RTF to text.

Each format family has its module (``pdf``, ``office``, ``opendocument``, ``web``) built on a
maintained library (the ``documents`` extra); ``legacy`` has LibreOffice save Office 97-2003
and RTF files as their modern formats first. :data:`CONVERTERS` names each converter and its
version, which is part of a converted document's hash. Formats are detected by content as well
as by extension.
"""

from __future__ import annotations

from harrier.sources.convert._detect import detect_format
from harrier.sources.convert._files import CONVERT_TIMEOUT, ConvertedFile, FileConverter, page_range
from harrier.sources.convert._registry import (
    CONVERTERS,
    Conversion,
    Converter,
    Unconvertible,
    add_plugins,
)

__all__ = [
    "CONVERTERS",
    "CONVERT_TIMEOUT",
    "Conversion",
    "ConvertedFile",
    "Converter",
    "FileConverter",
    "Unconvertible",
    "detect_format",
    "page_range",
]

add_plugins()  # last: a package's converter module may import the names above
