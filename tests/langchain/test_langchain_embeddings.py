"""``HarrierEmbeddings`` routes queries and documents exactly as the engine and the reference."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from sentence_transformers import SentenceTransformer

import harrier
from langchain_harrier import HarrierEmbeddings

TEXTS = ["capital of France", "机器学习是人工智能的一个分支。", "Emoji 🙂 and code: f(x) = 2x"]
TASK = "Find the recipe that matches the question"


@pytest.fixture
def engine(model_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


@pytest.fixture
def embeddings(model_path: Path) -> HarrierEmbeddings:
    return HarrierEmbeddings(model=model_path, device="cpu")


def test_documents_equal_engine_documents(embeddings, engine):
    result = embeddings.embed_documents(TEXTS)
    assert isinstance(result, list) and all(isinstance(v, list) for v in result)
    assert all(isinstance(x, float) for x in result[0])
    np.testing.assert_array_equal(np.array(result, np.float32), engine.embed_documents(TEXTS))


def test_default_query_equals_engine_default_query(embeddings, engine):
    for text in TEXTS:
        expected = engine.embed_queries([text])[0]
        np.testing.assert_array_equal(np.array(embeddings.embed_query(text), np.float32), expected)
    assert embeddings.query_prompt == engine.query_prompt()


def test_instruction_query_equals_engine_instruction_query(model_path, engine):
    embeddings = HarrierEmbeddings(model=model_path, device="cpu", query_instruction=TASK)
    expected = engine.embed_queries(TEXTS[:1], instruction=TASK)[0]
    np.testing.assert_array_equal(np.array(embeddings.embed_query(TEXTS[0]), np.float32), expected)
    assert embeddings.query_prompt == f"Instruct: {TASK}\nQuery: "


def test_named_prompt_query_equals_engine(model_path, engine):
    embeddings = HarrierEmbeddings(model=model_path, device="cpu", prompt_name="sts_query")
    expected = engine.embed_queries(TEXTS[:1], prompt_name="sts_query")[0]
    np.testing.assert_array_equal(np.array(embeddings.embed_query(TEXTS[0]), np.float32), expected)


def test_query_and_document_differ_by_the_instruction_only(embeddings, engine):
    text = TEXTS[0]
    query = np.array(embeddings.embed_query(text), np.float32)
    assert not np.allclose(query, embeddings.embed_documents([text])[0], atol=1e-3)
    as_document = embeddings.embed_documents([embeddings.query_prompt + text])[0]
    np.testing.assert_allclose(query, as_document, atol=1e-6)


def test_matches_sentence_transformers(model_path, embeddings):
    reference = SentenceTransformer(str(model_path), device="cpu")
    queries = reference.encode(TEXTS, prompt_name="web_search_query", normalize_embeddings=True)
    documents = reference.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose([embeddings.embed_query(t) for t in TEXTS], queries, atol=1e-5)
    np.testing.assert_allclose(embeddings.embed_documents(TEXTS), documents, atol=1e-5)
    task_queries = reference.encode(
        TEXTS, prompt=f"Instruct: {TASK}\nQuery: ", normalize_embeddings=True
    )
    custom = HarrierEmbeddings(model=model_path, device="cpu", query_instruction=TASK)
    np.testing.assert_allclose([custom.embed_query(t) for t in TEXTS], task_queries, atol=1e-5)


def test_shares_the_loaded_model_with_the_engine(qwen_path):
    embeddings = HarrierEmbeddings(model=qwen_path)
    other = HarrierEmbeddings(model_name=str(qwen_path), query_instruction=TASK, device="cpu")
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    assert embeddings._engine is not None
    assert embeddings._engine._loaded is engine._loaded
    assert other.embedder._loaded is engine._loaded
    validated = HarrierEmbeddings.model_validate({"model": str(qwen_path), "device": "cpu"})
    assert validated.embedder._loaded is engine._loaded  # built on first use there


def test_engine_settings_pass_through(qwen_path):
    embeddings = HarrierEmbeddings(
        model=qwen_path,
        device="cpu",
        dtype="float32",
        max_tokens=8,
        truncate=True,
        max_batch_tokens=64,
        local_files_only=True,
        show_progress=False,
    )
    engine = embeddings.embedder
    assert (engine.max_tokens, engine.truncate, engine.max_batch_tokens) == (8, True, 64)
    assert str(engine.device) == "cpu" and str(engine.dtype) == "torch.float32"
    long_text = "The quick brown fox jumps over the lazy dog. " * 5
    assert len(embeddings.embed_documents([long_text])[0]) == engine.dimension


def test_too_long_text_raises_without_truncate(qwen_path):
    embeddings = HarrierEmbeddings(model=qwen_path, device="cpu", max_tokens=8)
    with pytest.raises(harrier.TextTooLongError):
        embeddings.embed_documents(["The quick brown fox jumps over the lazy dog. " * 5])


def test_fields_are_documented_and_model_is_an_alias():
    for name, field in HarrierEmbeddings.model_fields.items():
        assert field.description, f"field {name} has no description"
    assert HarrierEmbeddings.model_fields["model_name"].default == harrier.DEFAULT_MODEL
    assert HarrierEmbeddings.model_fields["model_name"].alias == "model"
    assert HarrierEmbeddings.model_fields["query_instruction"].default is None


def test_unknown_setting_is_refused(qwen_path):
    with pytest.raises(ValidationError, match="extra"):
        HarrierEmbeddings(model=qwen_path, devise="cpu")
    with pytest.raises(harrier.ConfigurationError, match="zero never means the default"):
        HarrierEmbeddings(model=qwen_path, max_tokens=0)


def test_engine_errors_keep_their_type(qwen_path, tmp_path):
    with pytest.raises(harrier.UnknownPromptError, match="web_search_query"):
        HarrierEmbeddings(model=qwen_path, device="cpu", prompt_name="nope")
    with pytest.raises(harrier.ConfigurationError, match="not both"):
        HarrierEmbeddings(
            model=qwen_path, device="cpu", prompt_name="sts_query", query_instruction=TASK
        )
    with pytest.raises(harrier.ConfigurationError, match="dtype"):
        HarrierEmbeddings(model=qwen_path, device="cpu", dtype="float8")
    with pytest.raises(harrier.ModelLoadError):
        HarrierEmbeddings(model=tmp_path / "missing", local_files_only=True)


def test_engine_settings_are_frozen(qwen_path):
    embeddings = HarrierEmbeddings(model=qwen_path, device="cpu")
    with pytest.raises(ValidationError):
        embeddings.device = "cuda"  # type: ignore[misc]


async def test_async_equals_sync(embeddings):
    queries = await asyncio.gather(*(embeddings.aembed_query(t) for t in TEXTS))
    assert queries == [embeddings.embed_query(t) for t in TEXTS]
    assert await embeddings.aembed_documents(TEXTS) == embeddings.embed_documents(TEXTS)


@pytest.mark.parametrize("method", ["aembed_documents", "aembed_query"])
async def test_async_does_not_block_the_event_loop(qwen_path, monkeypatch, method):
    embeddings = HarrierEmbeddings(model=qwen_path, device="cpu")
    engine = embeddings.embedder
    started, release = threading.Event(), threading.Event()
    name = "embed_documents" if method == "aembed_documents" else "embed_queries"
    real = getattr(engine, name)

    def gated(texts, **kwargs):
        started.set()
        assert release.wait(5), "the event loop never released the worker"
        return real(texts, **kwargs)

    monkeypatch.setattr(engine, name, gated)
    argument = TEXTS if method == "aembed_documents" else TEXTS[0]
    task = asyncio.create_task(getattr(embeddings, method)(argument))
    while not started.is_set():  # the loop keeps running while the engine works
        await asyncio.sleep(0.005)
    assert not task.done()
    release.set()
    assert len(await task) > 0


@pytest.mark.parametrize("missing", ["langchain_core", "langchain_text_splitters"])
def test_missing_dependency_names_the_extra(missing):
    code = f"import sys; sys.modules[{missing!r}] = None\nimport langchain_harrier\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "pip install 'harrier-suite[langchain]'" in result.stderr
    assert f"needs {missing}" in result.stderr


def test_public_names_are_sorted_and_importable():
    import langchain_harrier

    assert langchain_harrier.__all__ == sorted(langchain_harrier.__all__)
    assert all(hasattr(langchain_harrier, name) for name in langchain_harrier.__all__)
    assert (Path(langchain_harrier.__file__).parent / "py.typed").exists()
