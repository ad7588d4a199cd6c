"""Moved to :mod:`harrier.sources.convert`; this path re-exports it, with a
``DeprecationWarning``, for one release (``harrier.convert.pdf``, ``.office`` and ``.web``
too: they are the same modules)."""

from __future__ import annotations

import sys

from harrier._deprecation import warn_renamed
from harrier.sources import convert as _convert
from harrier.sources.convert import *  # noqa: F403 - the names of __all__ below
from harrier.sources.convert import office, pdf, web

warn_renamed("harrier.convert", "harrier.sources.convert")
for _module in (office, pdf, web):
    sys.modules.setdefault(f"{__name__}.{_module.__name__.rpartition('.')[2]}", _module)

__all__ = _convert.__all__
