"""``harrier.split_spans`` on a large document vs one fast-tokenizer pass over the same text.

The tokenizer is the one ``harrier.testing.build_model`` saves with a tiny model: a byte-level BPE
(Qwen3 or Gemma3 flavour, 1,000-token vocabulary trained on a small multilingual corpus). The
baseline is what the engine does to count a document: ``tokenizer(text, add_special_tokens=True)``
on the whole text, one call. Prints both times (best of ``--repeat``, interleaved) and the ratio,
in wall-clock time and in CPU time (the work done, all threads summed: steadier on a busy host,
and a fair comparison where the thread pool has many cores to spread the batched calls over).

    python benchmarks/bench_splitter.py --size-mb 10 --max-tokens 512
    python benchmarks/bench_splitter.py --single-thread   # no Rust thread pool in either
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

_PARAGRAPHS = [
    "Retrieval augmented generation needs good embeddings. Sentence {i} talks about the capital "
    "of France, vector databases and token limits! Does it fit? It should.",
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。第{i}段没有空格，只有句号。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول. الفقرة رقم {i} باللغة العربية.",
    "def embed_{i}(texts: list[str]) -> np.ndarray:\n    return model.encode(texts)  # 🙂🚀\n",
    "Быстрая коричневая лиса прыгает через ленивую собаку {i} раз.      Пробелы   и\tтабы.",
]


def document(size: int) -> str:
    """A deterministic multilingual text of ``size`` characters, in paragraphs."""
    parts: list[str] = []
    total, i = 0, 0
    while total < size:
        part = _PARAGRAPHS[i % len(_PARAGRAPHS)].format(i=i) + ("\n\n" if i % 3 == 2 else " ")
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)[:size]


sys.path.insert(0, str(Path(__file__).parent))
from _common import table  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=10.0, help="document size, MB of chars")
    parser.add_argument("--max-tokens", type=int, nargs="+", default=[512, 32_768])
    parser.add_argument("--overlap-tokens", type=int, default=0)
    parser.add_argument("--arch", default="tiny-qwen3", choices=["tiny-qwen3", "tiny-gemma3"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--single-thread",
        action="store_true",
        help="disable the tokenizers thread pool (RAYON_NUM_THREADS=1)",
    )
    args = parser.parse_args(argv)
    if args.single_thread:  # must be set before the Rust library starts its pool
        os.environ["RAYON_NUM_THREADS"] = "1"
        os.environ["TOKENIZERS_PARALLELISM"] = "false"

    from transformers import AutoTokenizer

    import harrier
    from harrier.testing import build_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(Path(tmp) / args.arch, args.arch)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    text = document(int(args.size_mb * 1_000_000))
    print(
        f"tokenizer: {args.arch} byte-level BPE, vocab {len(tokenizer)}, "
        f"threads: {'1' if args.single_thread else 'default'}, cpus: {os.cpu_count()}"
    )
    print(f"document: {len(text):,} characters, {len(text.encode()):,} UTF-8 bytes")
    rows: list[dict[str, object]] = []
    for limit in args.max_tokens:
        base, split = [float("inf")] * 2, [float("inf")] * 2  # wall, cpu
        for _ in range(args.repeat):
            # Each result is dropped before the next timing: a live 5M-token list of Python
            # ints made the Rust tokenizer itself measurably slower here (allocator effects).
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            ids = tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
            base = [
                min(base[0], time.perf_counter() - wall),
                min(base[1], time.process_time() - cpu),
            ]
            tokens = len(ids["input_ids"])
            del ids
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            spans = harrier.split_spans(
                text, tokenizer, max_tokens=limit, overlap_tokens=args.overlap_tokens
            )
            split = [
                min(split[0], time.perf_counter() - wall),
                min(split[1], time.process_time() - cpu),
            ]
            largest, count = max(s.token_count for s in spans), len(spans)
            tiled = not args.overlap_tokens and "".join(s.text for s in spans) == text
            del spans
        rows.append(
            {
                "case": f"{len(text) / 1e6:.0f} MB text, max_tokens={limit}",
                "tokens": tokens,
                "spans": count,
                "largest span": largest,
                "tiles": tiled,
                "tokenizer pass s": base[0],
                "split_spans s": split[0],
                "ratio": split[0] / base[0],
                "cpu: pass s": base[1],
                "cpu: split s": split[1],
                "cpu ratio": split[1] / base[1],
            }
        )
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
