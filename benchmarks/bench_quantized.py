"""8-bit / 4-bit weights (bitsandbytes) against bfloat16: cosine parity and speed.

Each setting embeds the same corpus with the same random full-depth model; rows print the
lowest and mean cosine of its vectors to the bfloat16 ones, and tokens/s. Settings whose
library is missing (or that need CUDA) print why they were skipped.
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


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)

    import harrier

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    rows: list[dict[str, object]] = []
    base = None
    for quantization in (None, "8bit", "4bit"):
        case = f"{args.shape} L{args.layers or 'full'} {quantization or 'bfloat16'}"
        try:
            engine = harrier.Embedder.from_pretrained(
                folder, device=args.device, dtype="bfloat16", quantization=quantization
            )
        except harrier.ConfigurationError as exc:
            rows.append({"case": case, "skipped": str(exc)})
            continue
        texts = corpus(engine.tokenizer, args.texts, 16, 1024, seed=3)
        engine.embed_documents(texts[:8])
        started = time.perf_counter()
        vectors = engine.embed_documents(texts)
        seconds = time.perf_counter() - started
        base = vectors if base is None else base
        cosine = (vectors * base).sum(axis=1)
        rows.append(
            {
                "case": case,
                "tok/s": sum(engine.count_tokens(texts)) / seconds,
                "min cosine to bf16": float(cosine.min()),
                "mean cosine to bf16": float(np.mean(cosine)),
            }
        )
        del engine
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
