"""The engine against sentence-transformers, the reference implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import harrier
from harrier.testing import HARRIER_PROMPTS

TOL = 1e-5


@pytest.fixture
def reference(model_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(model_path), device="cpu")


@pytest.fixture
def embedder(model_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    assert np.isfinite(actual).all()
    np.testing.assert_allclose(actual, expected, atol=TOL, rtol=0)


def test_documents_equal_reference(embedder, reference, mixed_texts):
    expected = reference.encode(mixed_texts, normalize_embeddings=True)
    assert_close(embedder.embed_documents(mixed_texts), expected)
    norms = np.linalg.norm(embedder.embed_documents(mixed_texts), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


@pytest.mark.parametrize("prompt_name", sorted(HARRIER_PROMPTS))
def test_named_prompt_queries_equal_reference(embedder, reference, mixed_texts, prompt_name):
    expected = reference.encode(mixed_texts, prompt_name=prompt_name, normalize_embeddings=True)
    assert_close(embedder.embed_queries(mixed_texts, prompt_name=prompt_name), expected)


def test_instruction_queries_equal_reference(embedder, reference, mixed_texts):
    task = "Find the recipe that matches the question"
    expected = reference.encode(
        mixed_texts, prompt=f"Instruct: {task}\nQuery: ", normalize_embeddings=True
    )
    assert_close(embedder.embed_queries(mixed_texts, instruction=task), expected)


def test_default_query_prompt_is_web_search(embedder, reference, mixed_texts):
    expected = reference.encode(
        mixed_texts, prompt_name="web_search_query", normalize_embeddings=True
    )
    assert_close(embedder.embed_queries(mixed_texts), expected)


def test_queries_differ_from_documents(embedder, mixed_texts):
    docs = embedder.embed_documents(mixed_texts)
    queries = embedder.embed_queries(mixed_texts)
    assert np.abs(docs - queries).max() > 1e-3


@pytest.mark.parametrize("reference_side", ["left", "right"])
def test_tokenizer_padding_side_does_not_matter(model_dir, arch, mixed_texts, reference_side):
    reference = SentenceTransformer(str(model_dir[arch]), device="cpu")
    reference.tokenizer.padding_side = reference_side
    expected = reference.encode(mixed_texts, normalize_embeddings=True)
    for folder in (model_dir[arch], model_dir[f"{arch}-left"]):
        engine = harrier.Embedder.from_pretrained(folder, device="cpu")
        assert_close(engine.embed_documents(mixed_texts), expected)


def test_batched_equals_one_at_a_time(embedder, mixed_texts):
    batched = embedder.embed_documents(mixed_texts)
    single = np.stack([embedder.embed_documents([t])[0] for t in mixed_texts])
    assert_close(batched, single)


def test_small_token_budget_keeps_order_and_values(model_path, reference, mixed_texts):
    engine = harrier.Embedder.from_pretrained(model_path, device="cpu", max_batch_tokens=64)
    shuffled = mixed_texts[::-1] + mixed_texts[:3]
    assert_close(
        engine.embed_documents(shuffled), reference.encode(shuffled, normalize_embeddings=True)
    )


def test_mean_pooling_model_equals_reference(model_dir, mixed_texts):
    folder = model_dir["tiny-qwen3-mean"]
    reference = SentenceTransformer(str(folder), device="cpu")
    engine = harrier.Embedder.from_pretrained(folder, device="cpu")
    assert_close(
        engine.embed_documents(mixed_texts),
        reference.encode(mixed_texts, normalize_embeddings=True),
    )


def test_truncation_equals_reference_truncation(model_path, mixed_texts, caplog):
    reference = SentenceTransformer(str(model_path), device="cpu")
    reference.max_seq_length = 32
    engine = harrier.Embedder.from_pretrained(
        model_path, device="cpu", max_tokens=32, truncate=True
    )
    with caplog.at_level("WARNING", logger="harrier"):
        actual = engine.embed_documents(mixed_texts)
    assert_close(actual, reference.encode(mixed_texts, normalize_embeddings=True))
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1
    long_ones = sum(n > 32 for n in engine.count_tokens(mixed_texts))
    assert f"truncated {long_ones} of {len(mixed_texts)}" in warnings[0].getMessage()


def test_a_bidirectional_model_keeps_its_padding_mask(tmp_path, mixed_texts):
    """Padded rows run without a mask only under causal attention; a Gemma3 made bidirectional
    (as EmbeddingGemma is) still gets the mask, so it still equals the reference."""
    import json

    from harrier.testing import build_model

    folder = build_model(tmp_path / "bidirectional", "tiny-gemma3", pooling="mean")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "use_bidirectional_attention": True}))
    engine = harrier.Embedder.from_pretrained(folder, device="cpu")
    assert not engine._loaded.causal
    expected = SentenceTransformer(str(folder), device="cpu").encode(
        mixed_texts, normalize_embeddings=True
    )
    assert_close(engine.embed_documents(mixed_texts), expected)
