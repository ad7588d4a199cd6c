"""GPU checks (run with ``-m gpu`` on a CUDA machine): fidelity in bf16 and fp32, OOM split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import harrier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_defaults_to_bfloat16(model_path):
    engine = harrier.Embedder.from_pretrained(model_path)
    assert engine.device.type == "cuda" and engine.dtype == torch.bfloat16


def test_cuda_float32_equals_reference(model_path, mixed_texts):
    engine = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="float32")
    reference = SentenceTransformer(str(model_path), device="cuda")
    np.testing.assert_allclose(
        engine.embed_documents(mixed_texts),
        reference.encode(mixed_texts, normalize_embeddings=True),
        atol=1e-4,
    )
    np.testing.assert_allclose(
        engine.embed_queries(mixed_texts),
        reference.encode(mixed_texts, prompt_name="web_search_query", normalize_embeddings=True),
        atol=1e-4,
    )


def test_cuda_bfloat16_close_to_reference(model_path, mixed_texts):
    engine = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="bfloat16")
    reference = SentenceTransformer(
        str(model_path), device="cuda", model_kwargs={"dtype": torch.bfloat16}
    )
    ours = engine.embed_documents(mixed_texts)
    theirs = reference.encode(mixed_texts, normalize_embeddings=True)
    assert np.isfinite(ours).all()
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.99, cosine


def test_cuda_prefix_cache_matches_plain_path(model_path, mixed_texts):
    cached = harrier.Embedder.from_pretrained(
        model_path, device="cuda", dtype="float32", prefix_cache=True
    )
    plain = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="float32")
    assert cached.prefix_cache and not plain.prefix_cache  # off by default on CUDA
    np.testing.assert_allclose(
        cached.embed_queries(mixed_texts), plain.embed_queries(mixed_texts), atol=1e-4
    )


def test_cuda_span_ids_embed_as_their_texts(model_path, mixed_texts):
    """Tokenise once on the GPU path too: the splitter's ids give the texts' vectors."""
    engine = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="float32")
    splitter = harrier.Splitter(engine, max_tokens=40)
    spans = [s for per_text in splitter.split_many(mixed_texts) for s in per_text]
    np.testing.assert_allclose(
        engine.embed_token_ids([s.token_ids for s in spans]),
        engine.embed_documents([s.text for s in spans]),
        atol=1e-6,
    )
