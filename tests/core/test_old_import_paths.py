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


def test_harrier_ray_ingest_is_harrier_ingestion_ray():
    import harrier.ingestion.ray as new

    old = _fresh_import("harrier.ray_ingest")
    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name)


def test_the_ingestion_package_does_not_shadow_the_ingest_function():
    import harrier
    import harrier.ingestion

    assert callable(harrier.ingest)
    assert harrier.ingest.__module__ == "harrier.ingestion._ingest"
