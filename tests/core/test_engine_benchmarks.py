"""The engine benchmarks' arithmetic and their CPU code paths, on tiny models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_documents
import bench_long_span
import bench_quantized
import bench_queries
from _profile import kind_of, profile


def test_padding_fraction_counts_padded_positions() -> None:
    lengths = [10, 6, 4, 4]
    plan = [[0, 1], [2, 3]]  # padded to 10 and to 4: 28 positions, 24 real
    assert bench_documents.padding_fraction(lengths, plan) == pytest.approx(4 / 28)
    assert bench_documents.padding_fraction(lengths, [[i] for i in range(4)]) == 0


def test_model_flops_counts_weights_and_windowed_causal_attention(gemma_path) -> None:
    from harrier import Embedder

    model = Embedder.from_pretrained(gemma_path, device="cpu")._loaded.model
    config = model.config
    lengths = [3, 20]
    weights = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    visible = 0  # brute force: every (query, key) pair a causal, windowed layer computes
    for kind in config.layer_types:
        for n in lengths:
            for q in range(n):
                for k in range(q + 1):
                    visible += kind != "sliding_attention" or q - k < config.sliding_window
    expected = (
        2 * weights * sum(lengths) + 4 * config.num_attention_heads * config.head_dim * visible
    )
    assert bench_documents.model_flops(model, lengths) == expected


@pytest.mark.slow  # three subprocesses per shape
def test_documents_benchmark_runs_on_cpu(tmp_path) -> None:
    options = ["--texts", "6", "--max-tokens", "64", "--profile", "--cache", str(tmp_path)]
    rows = bench_documents.main(["--shapes", "tiny-qwen3", *options])
    row = rows[0]
    assert "failed" not in row, row
    assert row["padding: packed plan"] == 0 and row["max |diff| packed vs padded"] < 1e-5
    for path in ("packed", "padded"):
        assert 0 < row[f"{path} busy"] <= 1 and row[f"{path} kernels/call"] > 0
        assert row[f"{path} matmul"] > 0 and row[f"{path} attention"] > 0


@pytest.mark.slow  # two subprocesses
def test_long_span_benchmark_runs_on_cpu(tmp_path) -> None:
    rows = bench_long_span.main(
        ["--shape", "tiny-gemma3", "--tokens", "200", "--cache", str(tmp_path)]
    )
    assert "failed" not in rows[0], rows[0]


def test_query_and_quantized_benchmarks_run_on_cpu(tmp_path) -> None:
    options = ["--queries", "8", "--latency-queries", "3", "--cache", str(tmp_path)]
    rows = bench_queries.main(["--shapes", "tiny-gemma3", "--profile", *options])
    latency = [r for r in rows if "batch 1" in str(r["case"])]
    assert len(latency) == 3 and all(r["p50 ms"] > 0 for r in latency)  # type: ignore[operator]
    profiled = [r for r in latency if "device busy" in r]
    assert [r["case"].split(": ")[1] for r in profiled] == ["harrier plain", "harrier prefix cache"]
    assert all(0 < r["device busy"] <= 1 and r["device matmul"] > 0 for r in profiled)
    rows = bench_quantized.main(
        ["--shape", "tiny-gemma3", "--texts", "4", "--cache", str(tmp_path)]
    )
    assert rows[0]["min cosine to bf16"] == pytest.approx(1.0)
    assert all("CUDA only" in str(r["skipped"]) for r in rows[1:])


def test_profile_sorts_kernels_by_kind_and_sums_to_the_whole() -> None:
    import torch

    assert kind_of("nvjet_tst_128x256_64x4_1x2_h_bz_coopA_NTT") == "matmul"
    assert kind_of("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits>") == "attention"
    assert kind_of("triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_0") == "fused"
    assert kind_of("Memcpy HtoD (Pageable -> Device)") == "copies"
    assert kind_of("void at::native::vectorized_elementwise_kernel<4>") == "elementwise"
    a = torch.randn(256, 256)
    found = profile(lambda: [torch.relu(a @ a) for _ in range(3)], "cpu")
    assert found.shares["matmul"] > 0 and found.shares["elementwise"] > 0
    assert sum(found.shares.values()) == pytest.approx(1.0)
    assert 0 < found.busy <= 1 and found.kernels >= 6
    assert found.top[0][0] == "aten::mm"
