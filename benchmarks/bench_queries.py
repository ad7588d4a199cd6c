"""Queries: short queries with the instruction, harrier (prefix cache) vs sentence-transformers.

Both run in this process on the same model, one after the other, after a warm-up each. Then
the latency of one query at a time (batch 1; p50 and p90 over ``--latency-queries``): the plain
path, the prefix cache, CUDA graphs and CUDA graphs of the ``torch.compile``-fused forward (on
CUDA) and sentence-transformers, each with its warm-up time (capture, compilation).
``--profile`` adds, for each of harrier's batch-1 paths, how busy the device is over ten
queries and how many kernels each launches (``_profile``; a launch-bound path is far from 1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import corpus, model_folder, table
from _profile import profile

PROFILED_QUERIES = 10


def _timed(fn, texts, full_warm_up=False):  # type: ignore[no-untyped-def]
    fn(texts if full_warm_up else texts[:4])  # GPU: a full pass first (clocks, kernels)
    started = time.perf_counter()
    out = np.asarray(fn(texts), dtype=np.float32)
    return out, time.perf_counter() - started


def latencies(fn, queries: list[str], device: str) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """p50 and p90 milliseconds of ``fn([query])``, after a warm-up over the same queries, and
    the warm-up's seconds (graph capture, compilation)."""
    import torch

    started = time.perf_counter()
    for query in queries:
        fn([query])
    warm_up = time.perf_counter() - started
    times = []
    for query in queries:
        started = time.perf_counter()
        fn([query])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000)
    p50, p90 = np.percentile(times, [50, 90])
    return float(p50), float(p90), warm_up


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--latency-queries", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--compile-shapes",
        default="harrier-270m",
        help="on CUDA, the shapes also timed with compile=True (it compiles for tens of seconds)",
    )
    parser.add_argument("--profile", action="store_true", help="kernels and busy time, batch 1")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    import harrier

    rows = []
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    for shape in args.shapes.split(","):
        folder = model_folder(Path(args.cache), shape, args.layers or None)
        cached = harrier.Embedder.from_pretrained(
            folder, device=args.device, dtype=dtype, prefix_cache=True, cuda_graphs=False
        )
        plain = harrier.Embedder.from_pretrained(
            folder, device=args.device, dtype=dtype, prefix_cache=False, cuda_graphs=False
        )
        reference = SentenceTransformer(
            str(folder), device=args.device, model_kwargs={"dtype": dtype}
        )
        queries = corpus(cached.tokenizer, args.queries, 5, 40, seed=1)
        gpu = args.device.startswith("cuda")
        ours, t_ours = _timed(cached.embed_queries, queries, gpu)
        uncached, t_plain = _timed(plain.embed_queries, queries, gpu)

        def encode(q, model=reference):  # type: ignore[no-untyped-def]
            return model.encode(
                q, prompt_name="web_search_query", normalize_embeddings=True, batch_size=32
            )

        ref, t_ref = _timed(encode, queries, gpu)
        prefix = len(cached._loaded.prefix_cache.get(cached.query_prompt()).ids)
        rows.append(
            {
                "case": f"{shape} L{args.layers or 'full'} {args.queries} queries 5-40 tok",
                "prompt tokens cached": prefix,
                "harrier q/s": args.queries / t_ours,
                "harrier no-cache q/s": args.queries / t_plain,
                "reference q/s": args.queries / t_ref,
                "speed ratio": t_ref / t_ours,
                "max |diff| vs ref": float(np.abs(ours - ref).max()),
                "max |diff| cache vs none": float(np.abs(ours - uncached).max()),
            }
        )
        rows += _latency_rows(shape, args, folder, dtype, queries, plain, cached, encode)
    print(table(rows))
    return rows


def _latency_rows(shape, args, folder, dtype, queries, plain, cached, encode):  # type: ignore[no-untyped-def]
    import harrier

    engines = {"harrier plain": plain.embed_queries, "harrier prefix cache": cached.embed_queries}
    if args.device.startswith("cuda"):
        graphs = harrier.Embedder.from_pretrained(
            folder, device=args.device, dtype=dtype, prefix_cache=False, cuda_graphs=True
        )
        engines["harrier CUDA graphs"] = graphs.embed_queries
        if shape in args.compile_shapes.split(","):
            fused = harrier.Embedder.from_pretrained(
                folder, device=args.device, dtype=dtype, prefix_cache=False, compile=True
            )
            engines["harrier CUDA graphs + torch.compile"] = fused.embed_queries
    engines["sentence-transformers"] = encode
    sample = queries[: args.latency_queries]
    rows = []
    base = None
    for name, fn in engines.items():
        try:
            p50, p90, warm_up = latencies(fn, sample, args.device)
        except Exception as exc:  # a path that fails is reported, the others still run
            rows.append({"case": f"{shape} batch 1: {name}", "failed": repr(exc)[:200]})
            continue
        base = base or p50
        row = {
            "case": f"{shape} L{args.layers or 'full'} batch 1: {name}",
            "p50 ms": p50,
            "p90 ms": p90,
            "p50 vs plain": base / p50,
            "warm-up s": warm_up,
        }
        if args.profile and name.startswith("harrier"):
            some = sample[:PROFILED_QUERIES]
            try:
                found = profile(lambda fn=fn, some=some: [fn([q]) for q in some], args.device)
                row.update(found.columns("device", len(some)))
            except Exception as exc:  # the latency stands; say why the profile is missing
                row["profile failed"] = repr(exc)[:200]
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
