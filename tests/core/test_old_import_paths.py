"""Import paths that moved keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


def _fresh_import(name: str):
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    with pytest.warns(DeprecationWarning, match=rf"{name} is deprecated; use harrier\."):
        return importlib.import_module(name)


def test_harrier_convert_is_harrier_sources_convert():
    import harrier.sources.convert as new

    old = _fresh_import("harrier.convert")
    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name)
    from harrier.convert.pdf import convert_pdf  # the public format modules are the same modules

    assert convert_pdf is new.pdf.convert_pdf
