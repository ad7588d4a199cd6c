"""An engine package outside harrier (examples/harrier-engine-st) plugs in through the
``harrier.engines`` entry point: it passes EngineContract against harrier's own engine, the
command line embeds with it by name, and what an engine gives back is checked before it is
stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis.strategies import text as st_text

import harrier
from harrier import cli
from harrier._engine_registry import _REGISTERED
from harrier.testing import EngineContract

st = pytest.importorskip(
    "harrier_engine_st", reason="pip install -e examples/harrier-engine-st (as .ci/run does)"
)

DOCS = {
    "rivers.txt": "Rivers carry water from the hills down to the sea.",
    "glaciers.txt": "Glaciers carve deep valleys into the mountain rock over many years.",
}


@pytest.fixture(scope="module")
def local(qwen_path) -> harrier.Embedder:  # type: ignore[no-untyped-def]
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


class TestSentenceTransformerEngine(EngineContract):
    kind = "st"

    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, qwen_path):  # type: ignore[no-untyped-def]
        return st.SentenceTransformerEngine(str(qwen_path), device="cpu")

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, local):  # type: ignore[no-untyped-def]
        return local.embed_documents  # harrier's own engine: an independent computation


def test_the_kinds_are_harriers_two_and_the_packages():
    assert {"harrier", "remote", "st"} <= set(harrier.engine_kinds())


def test_an_unknown_kind_names_the_installed_ones():
    with pytest.raises(harrier.ConfigurationError, match=r"unknown engine 'onnx'; use one of .*st"):
        harrier.open_engine("onnx")


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("st", {"devices": ["cpu", "cpu"]}, "the st engine takes no --devices"),
        ("st:somewhere", {}, r"the st engine takes no st:\.\.\."),
        ("harrier:./model", {}, r"the harrier engine takes no harrier:\.\.\."),
        ("remote", {}, "the remote engine needs the server: remote:http"),
        ("remote:http://127.0.0.1:9", {"model": "m"}, "the remote engine takes no --model"),
    ],
)
def test_an_option_a_kind_cannot_honour_is_refused_not_ignored(spec, options, message):
    with pytest.raises(harrier.ConfigurationError, match=message):
        harrier.open_engine(spec, **options)


@given(spec=st_text())
def test_any_other_spec_is_a_configuration_error(spec: str) -> None:
    kind = spec.partition(":")[0]
    assume(kind not in harrier.engine_kinds())
    with pytest.raises(harrier.ConfigurationError):
        harrier.open_engine(spec)


def test_an_opener_that_gives_no_engine_is_refused(monkeypatch):
    monkeypatch.setitem(_REGISTERED, "broken", lambda request: object())
    with pytest.raises(harrier.ConfigurationError, match="lacks members of"):
        harrier.open_engine("broken")


def test_a_registered_kind_gets_the_request(monkeypatch, local):
    seen = []
    monkeypatch.setitem(_REGISTERED, "mine", lambda request: seen.append(request) or local)
    assert harrier.open_engine("mine:fast", model="m", max_tokens=64) is local
    assert (seen[0].kind, seen[0].location, seen[0].model, seen[0].max_tokens) == (
        "mine",
        "fast",
        "m",
        64,
    )
    with pytest.raises(harrier.ConfigurationError, match="non-empty name without ':'"):
        harrier.register_engine("a:b", lambda request: local)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert cli.main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_command_line_ingests_with_the_package_engine_and_harriers_reads_it(
    tmp_path: Path, qwen_path: Path, local: harrier.Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = f"qdrant:{tmp_path / 'store'}"
    common = ["--collection", "docs", "--store", store, "--model", str(qwen_path), "--json"]
    (report,) = _run(capsys, "ingest", str(folder), *common, "--engine", "st", "--device", "cpu")
    assert (report["documents"], report["skipped"]) == (2, 0)
    # The same weights' identity: harrier's own engine searches (and would extend) it.
    hits = _run(capsys, "search", DOCS["rivers.txt"], *common, "-k", "2", "--mode", "dense")
    query = local.embed_queries([DOCS["rivers.txt"]])[0]
    scores = local.embed_documents(list(DOCS.values())) @ query
    expected = sorted(zip(DOCS, scores.tolist(), strict=True), key=lambda pair: -pair[1])
    assert [h["doc_id"] for h in hits] == [name for name, _ in expected]
    assert [h["score"] for h in hits] == pytest.approx([s for _, s in expected], abs=1e-4)
    with harrier.Index(_store(tmp_path), local) as index:
        (span,) = index.store.fetch_spans("glaciers.txt")
        np.testing.assert_allclose(
            span.vector, local.embed_documents([DOCS["glaciers.txt"]])[0], atol=1e-4
        )


def _store(tmp_path: Path) -> harrier.VectorStore:
    from harrier_qdrant import QdrantStore

    return QdrantStore("docs", path=tmp_path / "store")


def test_engine_and_embedder_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(
            [
                *("search", "q", "--collection", "c", "--store", f"qdrant:{tmp_path}"),
                *("--engine", "st", "--embedder", "http://x:1"),
            ]
        )
    assert "not both" in capsys.readouterr().err


class _Answering:
    """An engine (over ``inner``) whose documents come back as ``answer`` makes them."""

    def __init__(self, inner: harrier.Embedder, answer) -> None:  # type: ignore[no-untyped-def]
        self._inner, self._answer = inner, answer

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    model_name = property(lambda self: self._inner.model_name)
    identity = property(lambda self: self._inner.identity)
    dimension = property(lambda self: self._inner.dimension)
    max_tokens = property(lambda self: self._inner.max_tokens)
    prompts = property(lambda self: self._inner.prompts)
    tokenizer = property(lambda self: self._inner.tokenizer)

    def query_prompt(self, instruction=None, prompt_name=None):  # type: ignore[no-untyped-def]
        return self._inner.query_prompt(instruction, prompt_name)

    def embed_queries(self, texts, **options):  # type: ignore[no-untyped-def]
        return self._inner.embed_queries(texts, **options)

    def count_tokens(self, texts):  # type: ignore[no-untyped-def]
        return self._inner.count_tokens(texts)

    def embed_documents(self, texts, *, show_progress=None):  # type: ignore[no-untyped-def]
        return self._answer(self._inner.embed_documents(texts))


def _nan_in_second(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.copy()
    vectors[1, 3] = np.nan
    return vectors


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (_nan_in_second, harrier.NonFiniteEmbeddingError, "NaN or infinite values for 1 of 2"),
        (lambda v: v[:1], harrier.EngineOutputError, r"shape \(1, \d+\) for 2 texts"),
        (lambda v: v[:, :-1], harrier.EngineOutputError, "one row of its dimension per text"),
    ],
)
def test_what_an_engine_gives_back_is_checked_before_it_is_stored(
    tmp_path: Path, local: harrier.Embedder, answer, error, message
) -> None:
    documents = [harrier.SourceDocument(name, text) for name, text in DOCS.items()]
    with harrier.Index(_store(tmp_path), _Answering(local, answer)) as index:
        with pytest.raises(error, match=message):
            index.ingest(documents)
        assert index.store.stored_documents(list(DOCS)) == {}
