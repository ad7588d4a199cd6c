"""Queries: short queries with the instruction, harrier (prefix cache) vs sentence-transformers.

Both run in this process on the same model, one after the other, after a warm-up each.
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


def _timed(fn, texts, full_warm_up=False):  # type: ignore[no-untyped-def]
    fn(texts if full_warm_up else texts[:4])  # GPU: a full pass first (clocks, kernels)
    started = time.perf_counter()
    out = np.asarray(fn(texts), dtype=np.float32)
    return out, time.perf_counter() - started


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--device", default="cpu")
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
            folder, device=args.device, dtype=dtype, prefix_cache=True
        )
        plain = harrier.Embedder.from_pretrained(
            folder, device=args.device, dtype=dtype, prefix_cache=False
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
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
