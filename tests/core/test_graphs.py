"""Bucketed small batches (the CUDA-graph path, run eagerly off the GPU): the padded vectors."""

from __future__ import annotations

import numpy as np
import pytest

from harrier import ConfigurationError, Embedder
from harrier._forward import COMPILATIONS_PER_REPLICA, compiled, plain_runner
from harrier._graphs import LENGTH_BUCKETS, ROW_BUCKETS, GraphedRunner, bucket


def test_bucket_is_the_smallest_that_holds() -> None:
    assert [bucket(n, (1, 2, 4)) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, None]


def test_bucketed_batches_equal_the_plain_path(model_path, mixed_texts) -> None:
    engine = Embedder.from_pretrained(model_path, device="cpu", prefix_cache=False)
    plain = plain_runner(engine._loaded)
    calls: list[int] = []

    def fallback(rows):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        return plain(rows)

    runner = GraphedRunner(engine._loaded, fallback)
    ids = engine.token_ids([engine.query_prompt() + t for t in mixed_texts])
    small = [row for row in ids if len(row) <= LENGTH_BUCKETS[-1]]
    assert len(small) >= 3
    for rows in ([small[0]], small[:3], small):  # 1 row; 3 rows padded to 4; all
        np.testing.assert_allclose(runner(rows), plain(rows), atol=1e-5)
    assert calls == []
    too_long = [row for row in ids if len(row) > LENGTH_BUCKETS[-1]]
    np.testing.assert_allclose(runner(too_long), plain(too_long), atol=1e-6)
    many = [small[0]] * (ROW_BUCKETS[-1] + 1)
    runner(many)
    assert calls == [len(too_long), len(many)]


def test_cuda_graphs_need_cuda(qwen_path) -> None:
    with pytest.raises(ConfigurationError, match="cuda_graphs"):
        Embedder.from_pretrained(qwen_path, device="cpu", cuda_graphs=True)


@pytest.mark.usefixtures("compile_cache")
@pytest.mark.parametrize(  # Gemma-3 compiled: 50 s on 2 cores (its packed path: test_packing)
    "arch", ["tiny-qwen3", pytest.param("tiny-gemma3", marks=pytest.mark.slow)]
)
def test_compiled_bucketed_batches_equal_the_plain_path(model_path, mixed_texts) -> None:
    """The forward under torch.compile (what ``compile=True`` captures on CUDA), one compilation
    for every bucket shape."""

    engine = Embedder.from_pretrained(model_path, device="cpu", prefix_cache=False)
    plain = plain_runner(engine._loaded)
    runner = GraphedRunner(engine._loaded, plain, model=compiled(engine._loaded.model, 1))
    ids = engine.token_ids([engine.query_prompt() + t for t in mixed_texts])
    small = [row for row in ids if len(row) <= LENGTH_BUCKETS[-1]]
    for rows in ([small[0]], small[:3], small[1:3]):
        np.testing.assert_allclose(runner(rows), plain(rows), atol=1e-5)
    assert len(runner._shapes) >= 2


def test_compile_needs_one_cuda_device(qwen_path) -> None:
    with pytest.raises(ConfigurationError, match=r"compile=True .* one CUDA device"):
        Embedder.from_pretrained(qwen_path, device="cpu", compile=True)


def test_compiling_for_several_replicas_raises_dynamos_limit(qwen_path) -> None:
    """Replicas share the forward's code object, and with it dynamo's compilation limit: each
    device's graphs must find room, or that replica would run eagerly."""
    import torch

    model = Embedder.from_pretrained(qwen_path, device="cpu")._loaded.model
    with torch._dynamo.config.patch(recompile_limit=8):
        compiled(model, 3)
        assert torch._dynamo.config.recompile_limit == 3 * COMPILATIONS_PER_REPLICA
        compiled(model, 1)
        assert torch._dynamo.config.recompile_limit == 3 * COMPILATIONS_PER_REPLICA  # kept
