"""HarrierEmbedding against sentence-transformers and the engine's own reference outputs."""

from __future__ import annotations

import asyncio
import importlib
import pickle
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import ValidationError
from sentence_transformers import SentenceTransformer

import harrier
from llama_index.embeddings.harrier import HarrierEmbedding

TOL = 1e-5
QUERY = "what is the capital of France?"
TASK = "Find the recipe that matches the question"


def close(actual: list[float], expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float32), expected, atol=TOL, rtol=0)


def test_default_query_keeps_the_models_shipped_prompt(embedding, model_path: Path):
    reference = SentenceTransformer(str(model_path), device="cpu")
    expected = reference.encode([QUERY], prompt_name="web_search_query", normalize_embeddings=True)
    close(embedding.get_query_embedding(QUERY), expected[0])
    assert embedding.query_prompt == reference.prompts["web_search_query"]
    sts = HarrierEmbedding(model_name=str(model_path), device="cpu", prompt_name="sts_query")
    expected = reference.encode([QUERY], prompt_name="sts_query", normalize_embeddings=True)
    close(sts.get_query_embedding(QUERY), expected[0])


def test_queries_route_to_embed_queries(embedding, engine, model_path: Path):
    close(embedding.get_query_embedding(QUERY), engine.embed_queries([QUERY])[0])
    instructed = HarrierEmbedding(model_name=str(model_path), query_instruction=TASK)
    close(instructed.get_query_embedding(QUERY), engine.embed_queries([QUERY], instruction=TASK)[0])
    assert instructed.query_prompt == f"Instruct: {TASK}\nQuery: "


def test_texts_never_get_the_instruction(model_path: Path, engine, mixed_texts):
    embedding = HarrierEmbedding(model_name=str(model_path), query_instruction=TASK)
    close(embedding.get_text_embedding(QUERY), engine.embed_documents([QUERY])[0])
    assert not np.allclose(
        embedding.get_text_embedding(QUERY), embedding.get_query_embedding(QUERY), atol=1e-3
    )
    batch = embedding.get_text_embedding_batch(mixed_texts)
    close(batch, engine.embed_documents(mixed_texts))


def test_batches_keep_order(qwen_path: Path, qwen_engine, mixed_texts):
    texts = mixed_texts[::-1] + mixed_texts  # long and short interleaved, duplicates included
    embedding = HarrierEmbedding(model_name=str(qwen_path), embed_batch_size=3)
    vectors = embedding.get_text_embedding_batch(texts)
    assert len(vectors) == len(texts)
    close(vectors, qwen_engine.embed_documents(texts))


async def test_async_hooks_run_off_the_event_loop(qwen_embedding, qwen_engine, monkeypatch):
    loop_thread = threading.get_ident()
    threads: list[int] = []
    engine = qwen_embedding.embedder
    for name in ("embed_queries", "embed_documents"):
        original = getattr(engine, name)

        def record(*args, _original=original, **kwargs):
            threads.append(threading.get_ident())
            return _original(*args, **kwargs)

        monkeypatch.setattr(engine, name, record)
    query, text, texts = await asyncio.gather(
        qwen_embedding.aget_query_embedding(QUERY),
        qwen_embedding.aget_text_embedding(QUERY),
        qwen_embedding.aget_text_embedding_batch(["one", "two", "three"]),
    )
    assert len(threads) == 3 and loop_thread not in threads
    close(query, qwen_engine.embed_queries([QUERY])[0])
    close(text, qwen_engine.embed_documents([QUERY])[0])
    close(texts, qwen_engine.embed_documents(["one", "two", "three"]))


def test_shares_the_loaded_model(qwen_path: Path):
    embedding = HarrierEmbedding(model_name=str(qwen_path))
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    assert embedding._engine._loaded is engine._loaded
    assert embedding.embedder is embedding._engine


def test_fields_serialise_and_pickle(qwen_path: Path):
    embedding = HarrierEmbedding(
        model_name=str(qwen_path), query_instruction=TASK, max_tokens=64, embed_batch_size=7
    )
    assert isinstance(embedding, BaseEmbedding)
    assert HarrierEmbedding.class_name() == "HarrierEmbedding"
    data = embedding.to_dict()
    assert data["class_name"] == "HarrierEmbedding"
    assert data["query_instruction"] == TASK and data["max_tokens"] == 64
    assert data["embed_batch_size"] == 7
    restored = pickle.loads(pickle.dumps(embedding))
    assert restored._engine._loaded is embedding._engine._loaded
    assert restored.embedder.max_tokens == 64
    assert restored.get_query_embedding(QUERY) == embedding.get_query_embedding(QUERY)
    assert HarrierEmbedding.from_dict(data).query_prompt == embedding.query_prompt


def test_engine_settings_pass_through(qwen_path: Path):
    embedding = HarrierEmbedding(
        model_name=str(qwen_path),
        device="cpu",
        dtype="float32",
        max_tokens=16,
        max_batch_tokens=100,
        local_files_only=True,
        show_progress=False,
    )
    assert embedding.embedder.max_tokens == 16
    assert embedding.embedder.max_batch_tokens == 100
    long_text = "The quick brown fox jumps over the lazy dog. " * 10
    with pytest.raises(harrier.TextTooLongError):
        embedding.get_text_embedding(long_text)
    truncating = HarrierEmbedding(model_name=str(qwen_path), max_tokens=16, truncate=True)
    assert len(truncating.get_text_embedding(long_text)) == truncating.embedder.dimension


def test_invalid_settings_raise_typed_errors(qwen_path: Path):
    folder = str(qwen_path)
    with pytest.raises(harrier.UnknownPromptError, match="sts_query"):
        HarrierEmbedding(model_name=folder, prompt_name="no_such_prompt")
    with pytest.raises(harrier.ConfigurationError, match="not both"):
        HarrierEmbedding(model_name=folder, query_instruction=TASK, prompt_name="sts_query")
    with pytest.raises(ValidationError, match="extra"):
        HarrierEmbedding(model_name=folder, encode_kwargs={"prompt_name": "sts_query"})
    with pytest.raises(harrier.ModelNotFoundError):
        HarrierEmbedding(model_name=str(qwen_path / "missing"), local_files_only=True)


def test_missing_llama_index_core_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name.startswith("llama_index.embeddings.harrier"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "llama_index.core", None)
    with pytest.raises(ImportError, match=r"pip install 'harrier-suite\[llamaindex\]'"):
        importlib.import_module("llama_index.embeddings.harrier")


def test_namespace_packages_stay_open():
    core = importlib.import_module("llama_index.core")
    package = importlib.import_module("llama_index.embeddings.harrier")
    namespace = sys.modules["llama_index"]
    assert package.__all__ == sorted(package.__all__)
    assert package.HarrierEmbedding is HarrierEmbedding
    assert core.VectorStoreIndex is not None
    root = Path(package.__file__).parents[3]  # integrations/llamaindex
    assert root / "llama_index" in [Path(p) for p in namespace.__path__]
    assert len(list(namespace.__path__)) >= 2  # ours and llama-index-core's
    assert not (root / "llama_index" / "__init__.py").exists()
    assert not (root / "llama_index" / "embeddings" / "__init__.py").exists()
    assert (root / "llama_index" / "embeddings" / "harrier" / "py.typed").exists()
