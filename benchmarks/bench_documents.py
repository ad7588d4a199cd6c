"""Documents: harrier's engine (packed and padded batches) vs sentence-transformers.

Each run is its own subprocess so its peak memory is its own. Prints tokens/s, the ratios, an
MFU estimate (model FLOPs per token x tok/s / ``--peak-tflops``), the padding fraction of each
batch plan (harrier's padded plan, sentence-transformers' 32 texts sorted by characters; a
packed plan has none) and the largest differences between the outputs. ``--compile-shapes``
(CUDA) also runs those shapes packed with ``compile=True``, its compilation in the warm-up
column. ``--profile`` adds where harrier's device time goes over the first
:data:`PROFILED_TEXTS` texts (``_profile``: how busy the device is, kernels per batch, the
share of matmul, attention and element-wise kernels) and its longest kernels.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import PeakMemory, corpus, device_peak_mib, model_folder, table
from _profile import Profile, profile


def worker(args: argparse.Namespace) -> None:
    """Embed the corpus with one implementation; write vectors and timings."""
    import torch

    texts = json.loads(Path(args.corpus).read_text())
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    extra: dict[str, object] = {}
    if args.impl.startswith("harrier"):
        import harrier

        engine = harrier.Embedder.from_pretrained(
            args.model,
            device=args.device,
            dtype=dtype,
            packing=args.impl != "harrier",
            compile=args.impl == "harrier-compiled",
        )
        embed = engine.embed_documents
        lengths = engine.count_tokens(texts)
        tokens = sum(lengths)
        extra = {
            "lengths": lengths,
            "padding": 0.0
            if engine.packing
            else padding_fraction(lengths, engine.batch_plan(lengths)),
            "flops": model_flops(engine._loaded.model, lengths),
        }
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(args.model, device=args.device, model_kwargs={"dtype": dtype})

        def embed(batch):  # type: ignore[no-untyped-def]
            return model.encode(batch, normalize_embeddings=True, batch_size=32)

        tokens = 0
    # Warm-up: on a GPU, one full untimed pass (clocks up, kernels chosen for every shape;
    # compilation).
    started = time.perf_counter()
    embed(texts if args.device.startswith("cuda") else texts[:2])
    extra["warm-up s"] = time.perf_counter() - started
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with PeakMemory() as memory:
        started = time.perf_counter()
        vectors = np.asarray(embed(texts), dtype=np.float32)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    np.save(args.out + ".npy", vectors)
    result = {
        "seconds": seconds,
        "tokens": tokens,
        "host_peak_mib": memory.peak_mib,
        "device_peak_mib": device_peak_mib(args.device),
        **extra,
    }
    Path(args.out + ".json").write_text(json.dumps(result))
    if args.profile and args.impl.startswith("harrier"):  # after the timings are saved
        some = texts[:PROFILED_TEXTS]  # enough for the mix; the profiler's events cost seconds
        result["profile"] = asdict(profile(lambda: embed(some), args.device))
        result["batches"] = len(engine.batch_plan(lengths[:PROFILED_TEXTS]))
        Path(args.out + ".json").write_text(json.dumps(result))


PROFILED_TEXTS = 64
"""``--profile`` profiles the corpus's first texts (random lengths, as the whole)."""


def padding_fraction(lengths: list[int], plan: list[list[int]]) -> float:
    """The share of computed token positions that are padding (each batch padded to its
    longest row); a packed plan computes only real tokens, so its share is 0 by construction."""
    if not plan:
        return 0.0
    computed = sum(len(batch) * max(lengths[i] for i in batch) for batch in plan)
    return 1 - sum(lengths) / computed


def model_flops(model, lengths: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Forward FLOPs for rows of ``lengths``: 2 x non-embedding weights per token, plus causal
    attention (QK and AV: 4 x heads x head_dim per visible key), within each sliding window."""
    weights = sum(p.numel() for name, p in model.named_parameters() if "embed_tokens" not in name)
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * len(model.layers)
    window = getattr(config, "sliding_window", None) or 1 << 30
    attention = 0
    for kind in layer_types:
        span = window if kind == "sliding_attention" else 1 << 30
        for n in lengths:  # keys seen by token t: min(t + 1, span)
            inside = min(n, span)
            attention += inside * (inside + 1) // 2 + (n - inside) * span
    return float(2 * weights * sum(lengths) + 4 * heads * head_dim * attention)


def reference_padding(texts: list[str], lengths: list[int]) -> float:
    """sentence-transformers' plan: sorted by characters (longest first), 32 texts a batch."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return padding_fraction(lengths, [order[i : i + 32] for i in range(0, len(order), 32)])


def add_peak_tflops(parser: argparse.ArgumentParser) -> None:
    """``--peak-tflops``: the device's peak, for the MFU estimate."""
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="for MFU (H100/H200 SXM dense bf16)"
    )


def compare(
    model: Path,
    texts: list[str],
    device: str,
    label: str,
    work: Path,
    peak_tflops: float,
    profiled: bool = False,
    compiled: bool = False,
) -> dict[str, object]:
    """Run every implementation on ``texts`` and return one table row."""
    corpus_file = work / f"{label}.json"
    corpus_file.write_text(json.dumps(texts))
    results = {}
    failed: list[str] = []
    impls = ["harrier-packed", "harrier", "sentence-transformers"]
    for impl in impls[:1] + ["harrier-compiled"] * compiled + impls[1:]:
        out = str(work / f"{label}-{impl}")
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                impl,
                "--model",
                str(model),
                "--corpus",
                str(corpus_file),
                "--device",
                device,
                "--out",
                out,
                *(["--profile"] if profiled else []),
            ],
            check=False,
        )
        if done.returncode != 0:  # e.g. killed for memory: report it, run the others
            failed.append(f"{impl} exit {done.returncode}")
        if Path(out + ".json").exists():  # timings saved, even if its profile failed after
            results[impl] = (json.loads(Path(out + ".json").read_text()), np.load(out + ".npy"))
    row: dict[str, object] = {"case": label, "texts": len(texts)}
    if failed:
        row["failed"] = "; ".join(failed)
    names = {
        "harrier-packed": "packed",
        "harrier-compiled": "packed+compile",
        "harrier": "padded",
        "sentence-transformers": "reference",
    }
    lengths = next((r["lengths"] for r, _ in results.values() if "lengths" in r), None)
    if lengths is None:
        return row
    tokens = sum(lengths)
    row["tokens"] = tokens
    for impl, (result, _) in results.items():
        row[f"{names[impl]} tok/s"] = tokens / result["seconds"]
    pairs = [("packed", "reference"), ("packed+compile", "reference"), ("padded", "reference")]
    for a, b in [*pairs, ("packed", "padded"), ("packed+compile", "packed")]:
        if f"{a} tok/s" in row and f"{b} tok/s" in row:
            row[f"{a} / {b}"] = row[f"{a} tok/s"] / row[f"{b} tok/s"]  # type: ignore[operator]
    for impl, (result, _) in results.items():
        if "flops" in result:
            row[f"MFU {names[impl]}"] = result["flops"] / result["seconds"] / (peak_tflops * 1e12)
    if "harrier" in results:
        row["padding: padded plan"] = results["harrier"][0]["padding"]
    row["padding: packed plan"] = 0.0
    row["padding: reference plan"] = reference_padding(texts, lengths)
    for impl, (result, _) in results.items():
        peak = result["device_peak_mib"]
        row[f"{names[impl]} peak MiB"] = peak if peak is not None else result["host_peak_mib"]
    for impl, (result, _) in results.items():
        if impl != "sentence-transformers":
            row[f"{names[impl]} warm-up s"] = result["warm-up s"]
    compared = [("harrier-packed", "harrier"), ("harrier-compiled", "harrier-packed")]
    for a, b in [*compared, ("harrier", "sentence-transformers")]:
        if a in results and b in results:
            diff = np.abs(results[a][1] - results[b][1]).max()
            row[f"max |diff| {names[a]} vs {names[b]}"] = float(diff)
    for impl, (result, _) in results.items():
        if "profile" in result:
            found = Profile(**result["profile"])
            row.update(found.columns(names[impl], result["batches"]))
            top = [{"kernel": n, "ms": ms, "share": share} for n, ms, share in found.top]
            print(f"{label}, {names[impl]}: longest kernels\n{table(top)}\n")
    return row


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="harrier-270m", help="comma list of SHAPES names")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--texts", type=int, default=48)
    parser.add_argument("--min-tokens", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    add_peak_tflops(parser)
    parser.add_argument("--profile", action="store_true", help="where harrier's time goes")
    parser.add_argument(
        "--compile-shapes",
        default="",
        help="shapes also run packed with compile=True (CUDA; compiles for tens of seconds)",
    )
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.impl = args.worker
        worker(args)
        return []
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for shape in args.shapes.split(","):
            folder = model_folder(Path(args.cache), shape, args.layers or None)
            from transformers import AutoTokenizer

            texts = corpus(
                AutoTokenizer.from_pretrained(folder), args.texts, args.min_tokens, args.max_tokens
            )
            label = f"{shape} L{args.layers or 'full'} {args.min_tokens}-{args.max_tokens} tok"
            rows.append(
                compare(
                    folder,
                    texts,
                    args.device,
                    label,
                    Path(work),
                    args.peak_tflops,
                    args.profile,
                    shape in args.compile_shapes.split(","),
                )
            )
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
