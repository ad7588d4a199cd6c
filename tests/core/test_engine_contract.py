"""EngineContract on harrier's two engines and on a minimal third-party one: the local
``Embedder`` (compared with sentence-transformers on the same model), ``RemoteEmbedder``
against a ``harrier serve`` in a thread, and an engine with the protocol's members only."""

from __future__ import annotations

import pytest

import harrier
from harrier.testing import EngineContract, serve_in_thread


@pytest.fixture(scope="module")
def local(qwen_path) -> harrier.Embedder:  # type: ignore[no-untyped-def]
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


class TestEmbedder(EngineContract):
    kind = "harrier"

    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, local):  # type: ignore[no-untyped-def]
        return local

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, qwen_path):  # type: ignore[no-untyped-def]
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(qwen_path), device="cpu")
        return lambda texts: model.encode(list(texts), normalize_embeddings=True)


class TestRemoteEmbedder(EngineContract):
    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, local):  # type: ignore[no-untyped-def]
        with serve_in_thread(local) as url:
            yield harrier.RemoteEmbedder(url)

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, local):  # type: ignore[no-untyped-def]
        return local.embed_documents  # the server's engine, called in-process


class MinimalEngine:
    """A third-party engine: the protocol's members and nothing else (here over an Embedder;
    an ONNX or another server's client would compute its own vectors)."""

    def __init__(self, inner: harrier.Embedder) -> None:
        self._inner = inner
        self.model_name = "minimal"
        self.identity = inner.identity
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens
        self.prompts = inner.prompts
        self.tokenizer = inner.tokenizer

    def query_prompt(self, instruction=None, prompt_name=None):  # type: ignore[no-untyped-def]
        return self._inner.query_prompt(instruction, prompt_name)

    def embed_documents(self, texts, *, show_progress=None):  # type: ignore[no-untyped-def]
        return self._inner.embed_documents(texts)

    def embed_queries(self, texts, **options):  # type: ignore[no-untyped-def]
        return self._inner.embed_queries(texts, **options)

    def count_tokens(self, texts):  # type: ignore[no-untyped-def]
        return self._inner.count_tokens(texts)


class TestMinimalEngine(EngineContract):
    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, local):  # type: ignore[no-untyped-def]
        return MinimalEngine(local)
