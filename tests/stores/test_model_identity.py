"""Collections record which weights made them: any path to the same weights is accepted,
other weights under the same name are refused, and collections of older versions still open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import harrier
from harrier import ModelIdentity, SourceDocument
from harrier.testing import build_model

SENTENCE = "The same weights give the same vectors, whatever path they are loaded from."


@pytest.fixture
def weights(tmp_path: Path, qwen_path: Path) -> Path:
    folder = tmp_path / "models" / "m"
    shutil.copytree(qwen_path, folder)
    return folder


def test_the_same_weights_under_any_path_are_one_model(open_store, weights, tmp_path, monkeypatch):
    monkeypatch.chdir(weights.parent)
    copy = shutil.copytree(weights, tmp_path / "elsewhere" / "copy-of-m")
    store = open_store("same")
    first = harrier.ingest(
        [SourceDocument("a", SENTENCE)],
        store,
        harrier.Embedder.from_pretrained("./m", device="cpu"),
    )
    assert first.spans_written == 1
    for path in (str(weights.resolve()), str(copy), "m"):
        engine = harrier.Embedder.from_pretrained(path, device="cpu")
        again = harrier.ingest([SourceDocument("a", SENTENCE)], store, engine)
        assert (again.unchanged, again.spans_written) == (1, 0)  # no re-embedding either
        assert harrier.Index(store, engine).search("weights", k=1)[0].doc_id == "a"
    recorded, dimension = store.collection_model()
    assert recorded.name == "./m" and recorded.fingerprint == first_fingerprint(weights)
    assert dimension == engine.dimension


def first_fingerprint(folder: Path) -> str:
    return harrier.Embedder.from_pretrained(folder, device="cpu").identity.fingerprint or ""


def test_other_weights_under_the_same_name_are_refused(open_store, weights, tmp_path):
    store = open_store("refuse")
    harrier.ingest(
        [SourceDocument("a", SENTENCE)],
        store,
        harrier.Embedder.from_pretrained(weights, device="cpu"),
    )
    shutil.rmtree(weights)
    build_model(weights, "tiny-qwen3", seed=1)  # same shape and name, other random weights
    other = harrier.Embedder.from_pretrained(weights, device="cpu")
    with pytest.raises(harrier.CollectionMismatchError, match="refusing"):
        harrier.ingest([SourceDocument("b", SENTENCE)], store, other)
    with pytest.raises(harrier.CollectionMismatchError):
        harrier.Index(store, other).search("anything")
    assert store.count() == 1


def test_a_collection_of_an_older_version_is_still_readable(open_store, qwen_path, qwen_engine):
    """Older versions recorded the model string alone: it is compared by name."""
    store = open_store("old")
    store.create_collection(ModelIdentity(str(qwen_path), None), qwen_engine.dimension)
    recorded, _ = store.collection_model()
    assert recorded == ModelIdentity(str(qwen_path), None)
    report = harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    assert report.spans_written == 1
    assert harrier.Index(store, qwen_engine).search("path", k=1)[0].doc_id == "a"
    renamed = harrier.Embedder.from_pretrained(f"{qwen_path}/.", device="cpu")
    with pytest.raises(harrier.CollectionMismatchError, match="refusing"):
        harrier.ingest([SourceDocument("b", SENTENCE)], store, renamed)
