"""``harrier.stores`` is the public kit: sorted exports, old private paths still import, and
neither the kit nor the connectors import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import harrier
import harrier.stores

HEAVY = ("torch", "transformers", "tokenizers", "sentence_transformers")
_CHECK = f"""
import sys
{{setup}}
import harrier.stores, harrier_qdrant, harrier_milvus
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
_BARE_HARRIER = """
import importlib.util, types
spec = importlib.util.find_spec("harrier")
bare = types.ModuleType("harrier")
bare.__path__ = list(spec.submodule_search_locations)
sys.modules["harrier"] = bare  # the package without its __init__ (which loads the engine)
"""


def _heavy_modules(setup: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_kit_and_the_connectors_import_no_engine_modules():
    assert _heavy_modules(_BARE_HARRIER) == "[]"


def test_importing_a_connector_does_not_import_torch():
    assert _heavy_modules("") == "[]"


def test_exports_are_sorted_and_importable():
    names = harrier.stores.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(harrier.stores, name) is not None


def test_the_top_level_names_are_the_kit():
    assert harrier.VectorStore is harrier.stores.VectorStore
    assert harrier.Bm25Settings is harrier.stores.Bm25Settings


def test_a_kind_registered_in_process_opens_like_an_installed_one(monkeypatch, tmp_path):
    from harrier.stores import registry

    monkeypatch.setattr(registry, "_REGISTERED", {})
    requests: list[harrier.stores.StoreRequest] = []

    def opener(request: harrier.stores.StoreRequest) -> harrier.stores.VectorStore:
        requests.append(request)
        return harrier.stores.open_store(f"qdrant:{request.path}", request.collection)

    harrier.stores.register_store("mine", opener)
    assert "mine" in harrier.stores.store_kinds()
    store = harrier.stores.open_store(f"mine:{tmp_path}", "docs", sparse=False)
    store.close()
    assert requests == [harrier.stores.StoreRequest("mine", "docs", str(tmp_path), False, None)]
    assert (requests[0].path, requests[0].url) == (str(tmp_path), None)
    with pytest.raises(harrier.ConfigurationError, match="without ':'"):
        harrier.stores.register_store("a:b", opener)


def test_an_unknown_kind_names_the_installed_ones():
    with pytest.raises(harrier.ConfigurationError, match=r"unknown store 'pinecone'.*qdrant"):
        harrier.stores.open_store("pinecone", "docs")
    with pytest.raises(harrier.ConfigurationError, match="Qdrant option"):
        harrier.stores.open_store("milvus:x.db", "docs", quantization="scalar")
    with pytest.raises(harrier.ConfigurationError, match="qdrant-local takes a folder"):
        harrier.stores.open_store("qdrant-local:http://localhost:6333", "docs")
