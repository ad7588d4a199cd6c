"""Long spans: one 32k-token span, harrier vs sentence-transformers: peak memory and speed.

Each side runs in its own subprocess (see bench_documents.compare). On CPU use a shallow model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import corpus, model_folder, table
from bench_documents import add_peak_tflops, compare


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=1, help="depth (full depth: 0)")
    parser.add_argument("--tokens", type=int, default=32_000)
    parser.add_argument("--device", default="cpu")
    add_peak_tflops(parser)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    text = corpus(AutoTokenizer.from_pretrained(folder), 1, args.tokens, args.tokens)
    with tempfile.TemporaryDirectory() as work:
        label = f"{args.shape} L{args.layers or 'full'} one span of {args.tokens} tok"
        rows = [compare(folder, text, args.device, label, Path(work), args.peak_tflops)]
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
