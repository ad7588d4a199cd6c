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


def _long_and_short(mixed_texts):  # type: ignore[no-untyped-def]
    # tiny-gemma3's sliding window is 8 tokens: most rows cross it, next to short rows.
    return [*mixed_texts, "a b c d e f g h i j k l m n o p q r s", "x", "y z"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_cuda_packed_matches_padded(model_path, mixed_texts, dtype):
    """bf16 runs varlen flash attention (bound: cosine > 0.999); fp32 the row-by-row SDPA."""
    texts = _long_and_short(mixed_texts)
    padded = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype=dtype, packing=False)
    packed = harrier.Embedder.from_pretrained(
        model_path, device="cuda", dtype=dtype, packing=True, max_batch_tokens=900
    )
    ours, theirs = packed.embed_documents(texts), padded.embed_documents(texts)
    assert np.isfinite(ours).all()
    if dtype == "float32":
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    else:
        assert (ours * theirs).sum(axis=1).min() > 0.999


def test_cuda_packs_by_default_in_bfloat16(model_path):
    from harrier._packing import varlen_available

    engine = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="bfloat16")
    assert engine.packing == varlen_available()


def test_cuda_graphs_match_the_plain_path(model_path, mixed_texts):
    plain = harrier.Embedder.from_pretrained(
        model_path, device="cuda", dtype="float32", cuda_graphs=False
    )
    graphs = harrier.Embedder.from_pretrained(model_path, device="cuda", dtype="float32")
    assert graphs.cuda_graphs  # the default on CUDA
    for batch in ([mixed_texts[0]], mixed_texts[:3], mixed_texts):
        np.testing.assert_allclose(
            graphs.embed_queries(batch), plain.embed_queries(batch), atol=1e-4
        )
    assert any(runner._shapes for runner in graphs._graphs.values())  # graphs were captured


def test_compiled_forward_matches_the_plain_path(model_path, mixed_texts):
    """compile=True in bfloat16 (fused kernels round differently: cosine > 0.999), for queries
    (graphs of the compiled forward) and packed documents; not in ``gpu.sh quick``
    (compilation takes a while)."""
    from torch._dynamo.utils import counters

    plain = harrier.Embedder.from_pretrained(model_path, device="cuda", cuda_graphs=False)
    fused = harrier.Embedder.from_pretrained(model_path, device="cuda", compile=True)
    assert fused.packing
    for batch in ([mixed_texts[0]], mixed_texts[:3], mixed_texts[1:4]):
        ours, theirs = fused.embed_queries(batch), plain.embed_queries(batch)
        assert np.isfinite(ours).all()
        assert (ours * theirs).sum(axis=1).min() > 0.999
    assert sum(len(runner._shapes) for runner in fused._graphs.values()) >= 2
    counters.clear()
    long_texts = [t * 3 for t in mixed_texts]  # over the 256-token graph buckets: packed
    for batch in (long_texts, long_texts[2:], long_texts[1::2]):
        ours, theirs = fused.embed_documents(batch), plain.embed_documents(batch)
        assert np.isfinite(ours).all()
        assert (ours * theirs).sum(axis=1).min() > 0.999
    assert not counters["graph_break"], dict(counters["graph_break"])
