"""Query prefix caching: exact, same token ids, and off when asked."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import harrier
from harrier._prefix_cache import stable_prefix_ids
from harrier.testing import HARRIER_PROMPTS

QUERIES = [
    "hello",
    "Paris is the capital",
    "机器学习是什么？",
    " leading space",
    "\nnew line",
    "x",
    "",
    "🙂🚀",
    "word " * 150,
    "The quick brown fox jumps over the lazy dog " * 6,
]


@pytest.fixture
def engines(model_path):
    return (
        harrier.Embedder.from_pretrained(model_path, device="cpu"),
        harrier.Embedder.from_pretrained(model_path, device="cpu", prefix_cache=False),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"prompt_name": "sts_query"},
        {"prompt_name": "bitext_query"},
        {"instruction": "Find the passage that answers it"},
    ],
)
def test_cached_equals_uncached_and_reference(engines, model_path, kwargs):
    cached, plain = engines
    with_cache = cached.embed_queries(QUERIES, **kwargs)
    np.testing.assert_allclose(with_cache, plain.embed_queries(QUERIES, **kwargs), atol=1e-5)
    reference = SentenceTransformer(str(model_path), device="cpu")
    if "instruction" in kwargs:
        ref_kwargs = {"prompt": f"Instruct: {kwargs['instruction']}\nQuery: "}
    else:
        ref_kwargs = {"prompt_name": kwargs.get("prompt_name", "web_search_query")}
    expected = reference.encode(QUERIES, normalize_embeddings=True, **ref_kwargs)
    np.testing.assert_allclose(with_cache, expected, atol=1e-5)
    assert cached._loaded.prefix_cache.get(cached.query_prompt(**kwargs)) is not None


def test_queries_longer_than_the_sliding_window(gemma_path):
    """The tiny Gemma-3 has a window of 8 tokens: every query here runs past it."""
    cached = harrier.Embedder.from_pretrained(gemma_path, device="cpu", max_batch_tokens=256)
    plain = harrier.Embedder.from_pretrained(gemma_path, device="cpu", prefix_cache=False)
    config = cached._loaded.model.config
    assert config.sliding_window == 8 and "sliding_attention" in config.layer_types
    queries = [("rivers and hills " * n).strip() for n in range(1, 40, 3)]
    np.testing.assert_allclose(
        cached.embed_queries(queries), plain.embed_queries(queries), atol=1e-5
    )


def test_model_sees_the_same_token_ids(engines):
    """Captured at the embedding layer: cached prefix + suffix == the plain path's ids."""
    cached, plain = engines
    seen: list[list[list[int]]] = []
    embed_tokens = cached._loaded.model.get_input_embeddings()
    handle = embed_tokens.register_forward_hook(
        lambda module, args, output: seen.append(args[0].tolist())
    )
    try:
        for text in QUERIES[:6]:
            seen.clear()
            plain.embed_queries([text])
            (full,) = seen[-1]
            prompt = cached.query_prompt()
            entry = cached._loaded.prefix_cache.get(prompt)
            seen.clear()
            cached.embed_queries([text])
            (suffix,) = seen[-1]
            assert list(entry.ids) + suffix == full
            assert full == cached.tokenizer(prompt + text)["input_ids"]
    finally:
        handle.remove()


def test_prefix_stops_before_the_trailing_space(model_path):
    tokenizer = harrier.Embedder.from_pretrained(model_path, device="cpu").tokenizer
    for prompt in HARRIER_PROMPTS.values():
        ids = stable_prefix_ids(tokenizer, prompt)
        assert tokenizer.decode(ids, skip_special_tokens=True) == prompt.rstrip(" ")
        for text in [*QUERIES, "the", " the", "Query"]:
            assert tokenizer(prompt + text)["input_ids"][: len(ids)] == ids


def test_switch_turns_the_cache_off(engines):
    _, plain = engines
    seen: list[int] = []
    embed_tokens = plain._loaded.model.get_input_embeddings()
    handle = embed_tokens.register_forward_hook(
        lambda module, args, output: seen.append(args[0].shape[1])
    )
    try:
        plain.embed_queries(["hello"])
    finally:
        handle.remove()
    assert seen == [len(plain.tokenizer(plain.query_prompt() + "hello")["input_ids"])]
    assert not plain.prefix_cache


def test_mean_pooled_models_never_use_the_cache(model_dir):
    engine = harrier.Embedder.from_pretrained(model_dir["tiny-qwen3-mean"], device="cpu")
    assert not engine.prefix_cache
