"""The CPU side of ingestion (read, hash, skip-check, split, tokenise) against the tokenizer
itself, against the rest of ingestion and against the engine. Every ratio is measured in this
run (best of ``--repeat``):

1. ``split_spans`` on documents that fit in one span vs one tokenizer call with offsets on
   each (target <= 1.3x);
2. the pipeline's prepare stage over small documents vs one batched tokenizer call over their
   texts (target <= 1.5x); 2b. the same over 2 KB documents that all need cutting
   (max_tokens=256): an offsets pass and a verifying pass over them, after the batched call
   that found they do not fit;
3. prepare-stage throughput over a folder of 2 KB files, tokens/s (target >= 750,000 on the
   2-core machine), next to the engine's own tokens/s for the 270m and 0.6b shapes;
4. ingestion of that folder with a tiny model (one layer, width 16: the least a real
   Harrier-architecture model costs) into the embedded default store vs the prepare stage
   alone (target >= 0.8x), with the tiny model's embedding alone, so the bounding stage shows.

Case 3 also runs in a subprocess with one tokenizer thread (``RAYON_NUM_THREADS=1``): the
stage spreads over the cores through the fast tokenizer's own thread pool (batched calls).
The tokenizer is the 4,000-token byte-level BPE that ``harrier.testing`` trains (the shape
models get one like it). It makes more tokens per character than Harrier's own tokenizers, so
MB/s is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import _WORDS, corpus, model_folder, table


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="small documents (~150 tokens)")
    parser.add_argument("--files", type=int, default=3000, help="2 KB files for cases 3 and 4")
    parser.add_argument("--engine-shapes", default="harrier-270m,harrier-0.6b")
    parser.add_argument("--engine-layers", type=int, default=0, help="0: full depth")
    parser.add_argument("--engine-texts", type=int, default=4, help="texts of 512 tokens")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    parser.add_argument("--prepare-folder", help=argparse.SUPPRESS)  # case 3 in a subprocess
    args = parser.parse_args(argv)

    import harrier
    from harrier.testing import ModelShape, build_model

    cache = Path(args.cache)
    tiny = cache / "nano-qwen3-vocab4000"
    if not (tiny / "model.safetensors").exists():
        build_model(tiny, ModelShape("qwen3", 16, 1, 1, 1, 8, 16, 4096), tokenizer_vocab=4000)
    engine = harrier.Embedder.from_pretrained(tiny, device=args.device)
    if args.prepare_folder:
        print(
            json.dumps(
                _prepare_folder(
                    Path(args.prepare_folder), engine, Path(args.prepare_folder).parent, args.repeat
                )
            )
        )
        return []
    tokenizer = engine.tokenizer
    print(
        f"cpus: {os.cpu_count()}, TOKENIZERS_PARALLELISM="
        f"{os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}"
    )

    rows: list[dict[str, object]] = []
    small = corpus(tokenizer, args.small, 150, 150, seed=3)
    rows.append(_split_vs_offsets(small, tokenizer, args.repeat))
    rows.append(_prepare_vs_batched(small, engine, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        folder = _two_kb_files(Path(tmp) / "docs", args.files)
        texts = [path.read_text(encoding="utf-8") for path in sorted(folder.iterdir())]
        rows.append(_prepare_vs_batched(texts[: args.small], engine, args.repeat, cut=256))
        prepare_row = _prepare_folder(folder, engine, Path(tmp), args.repeat)
        rows.append(prepare_row)
        rows.append(_one_thread(folder, args))
        rows.append(
            _ingest_folder(folder, engine, Path(tmp), args.repeat, prepare_row["harrier s"])
        )  # type: ignore[arg-type]
        rows.append(_embed_alone(folder, engine, Path(tmp)))
    for shape in filter(None, args.engine_shapes.split(",")):
        rows.append(_engine_row(cache, shape, args, prepare_row["tok/s"]))  # type: ignore[arg-type]
    keys = ["case", "tokens", "baseline s", "harrier s", "ratio", "tok/s", "MB/s", "target"]
    rows = [{key: row.get(key, "") for key in keys} for row in rows]
    print(table(rows))
    return rows


def _best(repeat: int, run) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _split_vs_offsets(texts: list[str], tokenizer, repeat: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import harrier

    base = _best(repeat, lambda: [tokenizer(t, return_offsets_mapping=True) for t in texts])
    split = _best(
        repeat, lambda: [harrier.split_spans(t, tokenizer, max_tokens=4096) for t in texts]
    )
    return {
        "case": f"1. split_spans, {len(texts)} documents that fit (max_tokens=4096), each "
        "vs one tokenizer call with offsets",
        "baseline s": base,
        "harrier s": split,
        "ratio": split / base,
        "target": "<= 1.3",
    }


def _prepare_vs_batched(
    texts: list[str],
    engine,
    repeat: int,
    cut: int | None = None,  # type: ignore[no-untyped-def]
) -> dict[str, object]:
    import harrier

    docs = [harrier.SourceDocument(f"d{i}", t) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp), engine)
        base = _best(repeat, lambda: engine.tokenizer(texts, add_special_tokens=True))
        stage = _best(repeat, lambda: _prepare_only(docs, store, engine, cut))
        store.close()
    if cut is None:
        return {
            "case": f"2. prepare stage, {len(texts)} small documents (~150 tokens), vs one "
            "batched tokenizer call",
            "baseline s": base,
            "harrier s": stage,
            "ratio": stage / base,
            "target": "<= 1.5",
        }
    return {
        "case": f"2b. prepare stage, {len(texts)} documents of 2 KB cut into spans of "
        f"{cut} tokens, vs one batched tokenizer call",
        "baseline s": base,
        "harrier s": stage,
        "ratio": stage / base,
        "target": "3 passes: fit, offsets, verify",
    }


def _prepare_folder(folder: Path, engine, work: Path, repeat: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    store = _store(work / "prepare", engine)
    counted: list[int] = []
    seconds = _best(repeat, lambda: counted.append(_prepare_only(folder, store, engine)))
    store.close()
    tokens = counted[-1]
    size = sum(p.stat().st_size for p in folder.iterdir())
    return {
        "case": f"3. prepare stage alone: folder of {len(list(folder.iterdir()))} files of "
        "2 KB (read, hash, skip-check, split)",
        "tokens": tokens,
        "harrier s": seconds,
        "tok/s": tokens / seconds,
        "MB/s": size / seconds / 1e6,
        "target": ">= 750,000 tok/s",
    }


def _one_thread(folder: Path, args) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Case 3 with the tokenizer's thread pool at one thread (set before it starts)."""
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--prepare-folder",
            str(folder),
            "--repeat",
            str(args.repeat),
            "--cache",
            args.cache,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["case"] = "3b. the same, one tokenizer thread (RAYON_NUM_THREADS=1)"
    row["target"] = ""
    return row


def _embed_alone(folder: Path, engine, work: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The tiny model's share: its embedding of the folder's spans, from their ids."""
    import harrier
    from harrier.sources._documents import iter_source

    texts = [doc.text for doc in iter_source(folder)]
    spans = [s for doc_spans in harrier.Splitter(engine).split_many(texts) for s in doc_spans]
    seconds = _best(1, lambda: engine.embed_token_ids([s.token_ids for s in spans]))
    tokens = sum(s.token_count for s in spans)
    return {
        "case": "4b. the tiny model alone: embedding those spans from their ids",
        "tokens": tokens,
        "harrier s": seconds,
        "tok/s": tokens / seconds,
    }


def _ingest_folder(
    folder: Path,
    engine,
    work: Path,
    repeat: int,
    prepare_seconds: float,  # type: ignore[no-untyped-def]
) -> dict[str, object]:
    import harrier
    from harrier_qdrant import QdrantStore

    reports = []
    for i in range(repeat):  # a fresh store each time: every document is new
        store = QdrantStore("bench", path=work / f"ingest-{i}")
        reports.append(harrier.ingest(folder, store, engine))
        store.close()
    report = min(reports, key=lambda r: r.seconds)
    return {
        "case": "4. ingestion of that folder, tiny model -> qdrant (Edge), vs the prepare "
        "stage alone",
        "tokens": report.tokens,
        "baseline s": prepare_seconds,
        "harrier s": report.seconds,
        "tok/s": report.tokens / report.seconds,
        "ratio": prepare_seconds / report.seconds,
        "target": ">= 0.8",
    }


def _engine_row(cache: Path, shape: str, args, prepare_tps: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import harrier

    folder = model_folder(cache, shape, args.engine_layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    texts = corpus(engine.tokenizer, args.engine_texts, 512, 512, seed=4)
    engine.embed_documents(texts if engine.device.type == "cuda" else texts[:1])  # warm-up
    tokens = sum(engine.count_tokens(texts))
    seconds = _best(1, lambda: _synchronised(engine, texts))
    depth = "full depth" if not args.engine_layers else f"{args.engine_layers} layers"
    return {
        "case": f"engine alone: {shape} shape, {depth}, {engine.device.type}, "
        f"{engine.dtype}".replace("torch.", ""),
        "tokens": tokens,
        "harrier s": seconds,
        "tok/s": tokens / seconds,
        "ratio": f"prepare is {prepare_tps / (tokens / seconds):,.0f}x faster",
    }


def _synchronised(engine, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    import torch

    engine.embed_documents(texts)
    if engine.device.type == "cuda":
        torch.cuda.synchronize()


def _store(path: Path, engine):  # type: ignore[no-untyped-def]
    from harrier_qdrant import QdrantStore

    store = QdrantStore("bench", path=path)
    store.ensure_collection(engine.identity, engine.dimension)
    return store


def _prepare_only(source, store, engine, max_tokens: int | None = None) -> int:  # type: ignore[no-untyped-def]
    """Run stage 1 of ``harrier.ingest`` over ``source`` as ingest does; the tokens it split."""
    from harrier.ingestion import _stages as stages
    from harrier.ingestion._ingest import Pipeline
    from harrier.ingestion._report import IngestReport
    from harrier.ingestion._threads import in_background
    from harrier.sources._documents import iter_source

    job = Pipeline(store, engine, max_tokens or engine.max_tokens, 0, IngestReport())
    groups = stages.document_groups(iter_source(source), set(), job.report, 64, 4_000_000)
    return sum(
        s.token_count
        for works in in_background(job.prepare_all(groups), maxsize=2, name="bench-reader")
        for w in works
        for s in w.spans or ()
    )


def _two_kb_files(folder: Path, count: int) -> Path:
    """``count`` text files of about 2,048 UTF-8 bytes of mixed-script words."""
    folder.mkdir(parents=True)
    rng = random.Random(5)
    for i in range(count):
        words, size = [], 0
        while size < 2048:
            word = rng.choice(_WORDS)
            words.append(word)
            size += len(word.encode()) + 1
        (folder / f"doc-{i:05d}.txt").write_text(" ".join(words)[:2048], encoding="utf-8")
    return folder


if __name__ == "__main__":
    main()
