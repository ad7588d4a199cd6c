"""Documents: harrier's engine vs sentence-transformers on the same random model.

Each side runs in its own subprocess so its peak memory is its own. Prints tokens/s, the ratio,
peak memory and the largest difference between the two outputs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import PeakMemory, corpus, device_peak_mib, model_folder, table


def worker(args: argparse.Namespace) -> None:
    """Embed the corpus with one implementation; write vectors and timings."""
    import torch

    texts = json.loads(Path(args.corpus).read_text())
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    if args.impl == "harrier":
        import harrier

        engine = harrier.Embedder.from_pretrained(args.model, device=args.device, dtype=dtype)
        embed = engine.embed_documents
        tokens = sum(engine.count_tokens(texts))
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(args.model, device=args.device, model_kwargs={"dtype": dtype})

        def embed(batch):  # type: ignore[no-untyped-def]
            return model.encode(batch, normalize_embeddings=True, batch_size=32)

        tokens = 0
    # Warm-up: on a GPU, one full untimed pass (clocks up, kernels chosen for every shape).
    embed(texts if args.device.startswith("cuda") else texts[:2])
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
    Path(args.out + ".json").write_text(
        json.dumps(
            {
                "seconds": seconds,
                "tokens": tokens,
                "host_peak_mib": memory.peak_mib,
                "device_peak_mib": device_peak_mib(args.device),
            }
        )
    )


def compare(
    model: Path, texts: list[str], device: str, label: str, work: Path
) -> dict[str, object]:
    """Run both implementations on ``texts`` and return one table row."""
    corpus_file = work / f"{label}.json"
    corpus_file.write_text(json.dumps(texts))
    results = {}
    for impl in ("harrier", "sentence-transformers"):
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
            ],
            check=False,
        )
        if done.returncode != 0:  # e.g. killed for memory: report it, do not hide it
            return {"case": label, "texts": len(texts), "failed": f"{impl} exit {done.returncode}"}
        results[impl] = (json.loads(Path(out + ".json").read_text()), np.load(out + ".npy"))
    (ours, ours_vec), (ref, ref_vec) = results["harrier"], results["sentence-transformers"]
    tokens = ours["tokens"]

    def memory(r: dict) -> float:  # type: ignore[type-arg]
        if r["device_peak_mib"] is not None:
            return r["device_peak_mib"]
        return r["host_peak_mib"]

    return {
        "case": label,
        "texts": len(texts),
        "tokens": tokens,
        "harrier tok/s": tokens / ours["seconds"],
        "reference tok/s": tokens / ref["seconds"],
        "speed ratio": ref["seconds"] / ours["seconds"],
        "harrier peak MiB": memory(ours),
        "reference peak MiB": memory(ref),
        "max |diff|": float(np.abs(ours_vec - ref_vec).max()),
    }


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="harrier-270m", help="comma list of SHAPES names")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--texts", type=int, default=48)
    parser.add_argument("--min-tokens", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
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
            rows.append(compare(folder, texts, args.device, label, Path(work)))
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
