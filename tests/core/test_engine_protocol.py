"""The engine protocol: what any engine must offer, and that importing harrier loads no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import harrier
from harrier import Embedder, EmbeddingEngine, Splitter
from harrier._engine import embeds_token_ids, is_engine


class _CountingEngine:
    """A minimal third-party engine: the protocol's members and nothing else."""

    def __init__(self, embedder: Embedder) -> None:
        self._inner = embedder
        self.model_name = "fake"
        self.identity = embedder.identity
        self.dimension = embedder.dimension
        self.max_tokens = embedder.max_tokens
        self.prompts: dict[str, str] = {}
        self.tokenizer = embedder.tokenizer
        self.documents = 0

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        return self._inner.query_prompt(instruction, prompt_name)

    def embed_documents(self, texts, *, show_progress=None):  # type: ignore[no-untyped-def]
        self.documents += len(texts)
        return self._inner.embed_documents(texts)

    def embed_queries(self, texts, **options):  # type: ignore[no-untyped-def]
        return self._inner.embed_queries(texts, **options)

    def count_tokens(self, texts):  # type: ignore[no-untyped-def]
        return self._inner.count_tokens(texts)


def test_both_engines_have_every_member() -> None:
    from harrier import RemoteEmbedder

    members = [n for n in vars(EmbeddingEngine) if not n.startswith("_")]
    assert {"embed_documents", "embed_queries", "tokenizer", "max_tokens"} <= set(members)
    for engine in (Embedder, RemoteEmbedder):
        missing = [n for n in members if not hasattr(engine, n) and n not in _INSTANCE_ATTRS]
        assert missing == [], engine


_INSTANCE_ATTRS = {"model_name", "max_tokens", "identity", "dimension", "prompts"}


@pytest.fixture(scope="module")
def qwen3_embedder(qwen_path) -> Embedder:  # type: ignore[no-untyped-def]
    return Embedder.from_pretrained(qwen_path, device="cpu")


def test_a_third_party_engine_plugs_into_the_splitter_and_the_stages(qwen3_embedder) -> None:
    from harrier.ingestion import _stages

    engine = _CountingEngine(qwen3_embedder)
    assert is_engine(engine) and not embeds_token_ids(engine)
    assert is_engine(qwen3_embedder) and embeds_token_ids(qwen3_embedder)
    assert not is_engine(qwen3_embedder.tokenizer)
    spans = Splitter(engine, max_tokens=8).split("one two three four five six seven eight nine")
    assert len(spans) > 1
    work = _stages.DocumentWork("doc", {}, "hash", spans=spans)
    _stages.embed([work], engine)
    assert engine.documents == len(spans)  # the texts went through embed_documents
    expected = qwen3_embedder.embed_documents([s.text for s in spans])
    np.testing.assert_allclose(work.vectors, expected, atol=1e-6)


def test_embedder_pickles_as_its_settings(qwen3_embedder) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(qwen3_embedder))
    assert copy.settings == qwen3_embedder.settings
    assert copy._loaded is qwen3_embedder._loaded  # the loaded weights are shared, not copied


@pytest.mark.parametrize(
    "statement",
    [
        "import harrier",
        "import harrier_qdrant",
        "import harrier; harrier.EmbedderSettings(dtype='bf16'); harrier.Index; harrier.ingest",
        "import harrier; harrier.Splitter; harrier.RemoteEmbedder",
    ],
)
def test_importing_harrier_loads_no_torch(statement: str) -> None:
    check = "import sys; assert not {'torch', 'transformers'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", f"{statement}; {check}"], check=True, timeout=120)


def test_every_public_name_resolves() -> None:
    assert harrier.__all__ == sorted(harrier.__all__, key=str)
    for name in harrier.__all__:
        assert getattr(harrier, name) is not None
    with pytest.raises(AttributeError):
        harrier.NoSuchName  # noqa: B018
