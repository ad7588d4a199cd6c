"""Packed batches (``packing=True``): the padded path's vectors, without padding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harrier import ConfigurationError, Embedder, EmbedderSettings, _packing
from harrier._forward import compiled, packed_runner
from harrier._packing import Pack


def _texts(mixed_texts: list[str]) -> list[str]:
    # Rows far longer than tiny-gemma3's sliding window of 8, next to short ones, so a window
    # that crossed into the previous row would change the vectors.
    return [*mixed_texts, "a b c d e f g h i j k l m n o p q r s", "x", "y z"]


def test_packed_equals_padded(model_path, mixed_texts):
    padded = Embedder.from_pretrained(model_path, device="cpu", packing=False)
    packed_engine = Embedder.from_pretrained(
        model_path, device="cpu", packing=True, max_batch_tokens=900
    )
    texts = _texts(mixed_texts)
    plan = packed_engine.batch_plan(packed_engine.count_tokens(texts))
    assert len(plan) > 1 and any(len(batch) > 3 for batch in plan)  # several packs of many
    np.testing.assert_allclose(
        packed_engine.embed_documents(texts), padded.embed_documents(texts), atol=1e-5
    )
    ids = packed_engine.token_ids(texts)
    np.testing.assert_allclose(
        packed_engine.embed_token_ids(ids), padded.embed_documents(texts), atol=1e-5
    )


def test_packed_queries_with_and_without_the_prefix_cache(model_path, mixed_texts):
    padded = Embedder.from_pretrained(model_path, device="cpu", packing=False, prefix_cache=False)
    for cache in (False, True):
        engine = Embedder.from_pretrained(
            model_path, device="cpu", packing=True, prefix_cache=cache
        )
        np.testing.assert_allclose(
            engine.embed_queries(mixed_texts), padded.embed_queries(mixed_texts), atol=1e-5
        )


def test_packed_mean_pooling(model_dir, mixed_texts):
    folder = model_dir["tiny-qwen3-mean"]
    padded = Embedder.from_pretrained(folder, device="cpu", packing=False)
    engine = Embedder.from_pretrained(folder, device="cpu", packing=True)
    np.testing.assert_allclose(
        engine.embed_documents(mixed_texts), padded.embed_documents(mixed_texts), atol=1e-5
    )


def test_rows_never_see_each_other(gemma_path):
    """The same row packed after different neighbours gives the same hidden states."""
    import torch

    engine = Embedder.from_pretrained(gemma_path, device="cpu", packing=True)
    row = engine.token_ids(["a b c d e f g h i j k l m n o p q r s t"])[0]
    model = engine._loaded.model
    outputs = []
    for before in ([], engine.token_ids(["one two three four five six seven eight nine"])[0]):
        ids = np.concatenate([before, row]).astype(np.int64)
        positions = np.concatenate([np.arange(len(before)), np.arange(len(row))])
        pack = Pack.of([*([len(before)] if len(before) else []), len(row)], engine.device)
        with torch.inference_mode():
            hidden = model(
                input_ids=torch.from_numpy(ids)[None],
                position_ids=torch.from_numpy(positions)[None],
                attention_mask={"full_attention": None, "sliding_attention": None},
                use_cache=False,
                **pack.kwargs(),
            ).last_hidden_state[0]
        outputs.append(hidden[len(before) :])
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=0)


def test_batch_plan_packs_every_row_once_within_the_budget(qwen_path):
    engine = Embedder.from_pretrained(qwen_path, device="cpu", packing=True, max_batch_tokens=100)
    lengths = [5, 90, 40, 3, 120, 60, 1, 33, 7]
    plan = engine.batch_plan(lengths)
    assert sorted(i for batch in plan for i in batch) == list(range(len(lengths)))
    for batch in plan:
        assert len(batch) == 1 or sum(lengths[i] for i in batch) <= 100


def test_packing_defaults_off_on_cpu(qwen_path):
    assert not Embedder.from_pretrained(qwen_path, device="cpu").packing


def test_packing_refused_where_it_cannot_run(qwen_path):
    with pytest.raises(ConfigurationError, match="packing=True"):
        Embedder.from_pretrained(qwen_path, device="cpu", packing=True, attn_implementation="eager")
    assert not Embedder.from_pretrained(
        qwen_path, device="cpu", attn_implementation="eager"
    ).packing
    with pytest.raises(ConfigurationError, match="packing"):
        EmbedderSettings(packing="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(("length", "window"), [(1, 4), (7, 8), (9, 8), (50, 8), (64, 16), (33, 1)])
def test_windowed_attention_equals_the_full_mask(length, window):
    """Blocks of ``window`` queries give what SDPA gives with the whole (length x length)
    sliding-window mask, batch and head axes included."""
    import torch
    import torch.nn.functional as F

    from harrier._packing import windowed

    generator = torch.Generator().manual_seed(length * 31 + window)
    q, k, v = (torch.randn(2, 3, length, 8, generator=generator) for _ in range(3))
    steps = torch.arange(length)
    distance = steps[:, None] - steps[None, :]
    full = F.scaled_dot_product_attention(
        q, k, v, attn_mask=(distance >= 0) & (distance < window), scale=0.3
    )
    torch.testing.assert_close(windowed(q, k, v, 0.3, window), full, atol=1e-6, rtol=1e-5)


def test_padded_sliding_window_builds_no_full_mask_and_matches_eager(gemma_path, mixed_texts):
    """The padded path gives a sliding-window layer no mask and applies the window in blocks:
    the vectors of transformers' eager attention (which builds the masks itself)."""
    import harrier._packing as packing

    texts = _texts(mixed_texts)
    eager = Embedder.from_pretrained(gemma_path, device="cpu", attn_implementation="eager")
    engine = Embedder.from_pretrained(gemma_path, device="cpu", packing=False)
    calls = []
    original = packing.windowed

    def counted(*args, **kwargs):
        calls.append(args[0].shape[-2])
        return original(*args, **kwargs)

    packing.windowed = counted
    try:
        vectors = engine.embed_documents(texts)
    finally:
        packing.windowed = original
    assert calls and max(calls) > 8  # rows longer than tiny-gemma3's window of 8
    np.testing.assert_allclose(vectors, eager.embed_documents(texts), atol=1e-5)


def _varlen_on_cpu(  # type: ignore[no-untyped-def]
    query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, is_causal=False, scale=None,
    window_size=None, enable_gqa=False, seqused_k=None, block_table=None, num_splits=None,
):  # fmt: skip
    """A CPU kernel for PyTorch's variable-length flash attention op, with flash attention's
    meaning: each row of ``cu_seq_q`` alone, causal, ``window_size[0]`` keys to the left
    (-1: all), grouped-query heads shared. SDPA with an explicit mask, so independent of
    ``harrier._packing``'s own windowed and row-by-row code."""
    left = window_size[0] if window_size else -1
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    out = torch.empty_like(query)
    for start, stop in itertools.pairwise(cu_seq_q.tolist()):
        q, k, v = (t[start:stop].transpose(0, 1)[None] for t in (query, key, value))
        at = torch.arange(stop - start)
        mask = at[None, :] <= at[:, None]
        if left >= 0:
            mask &= at[:, None] - at[None, :] <= left
        rows = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        out[start:stop] = rows[0].transpose(0, 1)
    logsumexp = torch.zeros((query.shape[1], query.shape[0]), dtype=torch.float32)
    return out, logsumexp, torch.zeros((2,), dtype=torch.uint64)


@pytest.fixture
def cpu_varlen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU's packed attention path, on CPU: the varlen op given :func:`_varlen_on_cpu` as
    its CPU kernel, and chosen for CPU tensors too."""
    if not _packing.varlen_available():
        pytest.skip("this torch has no variable-length flash attention with windows")
    from torch.nn.attention.varlen import _varlen_attn

    _varlen_attn.register_kernel("cpu", _varlen_on_cpu)
    monkeypatch.setattr(_packing, "_use_varlen", lambda query: True)


@pytest.mark.usefixtures("cpu_varlen")
def test_the_gpu_attention_path_equals_the_padded_path(model_path, mixed_texts):
    """What the GPU runs (windows as flash attention's ``(w - 1, 0)``, grouped heads, the row
    boundaries) gives the padded path's vectors."""
    padded = Embedder.from_pretrained(model_path, device="cpu", packing=False)
    packed_engine = Embedder.from_pretrained(
        model_path, device="cpu", packing=True, max_batch_tokens=900
    )
    texts = _texts(mixed_texts)
    np.testing.assert_allclose(
        packed_engine.embed_documents(texts), padded.embed_documents(texts), atol=1e-5
    )


@pytest.mark.usefixtures("cpu_varlen", "compile_cache")
def test_compiled_packed_batches_trace_once_and_equal_the_padded_path(model_path, mixed_texts):
    """``compile=True``'s document path: the packed forward under torch.compile is one graph,
    without breaks, for batches of any row count and length (no recompilation per batch)."""
    from torch._dynamo.utils import counters

    engine = Embedder.from_pretrained(model_path, device="cpu", packing=False)
    loaded = engine._loaded
    fused = packed_runner(loaded, compiled(loaded.model, 1))
    ids = engine.token_ids(_texts(mixed_texts))
    longer = [row for row in ids if len(row) > 8]  # over tiny-gemma3's window: one graph
    counters.clear()
    for rows in (longer, longer[:1], longer[2:5], longer[1::2]):
        vectors = fused(rows)
        np.testing.assert_allclose(vectors, engine.embed_token_ids(rows), atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 1
    assert not counters["graph_break"]
