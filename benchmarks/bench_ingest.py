"""Ingestion: end to end (read, split, embed, write) vs embedding only, on embedded stores,
and harrier's ingestion vs ``langchain_qdrant.QdrantVectorStore.add_documents`` with the same
embeddings and the same spans.

``--memory``: the peak resident memory of ``harrier ingest`` with the default settings on a CPU,
over a mixed folder of real formats (PDF, DOCX, PPTX, XLSX, ODT, ODP, ODS, HTML, EPUB from
``tests/document_files.py``, long and short text files), next to the same folder at
``--max-tokens 512`` (and, with ``--full-length``, at the model's 32,768 tokens). Each case runs
in a fresh process; ``--layers 0`` measures the full-depth model.

On a CPU the run ends with ingestion into Edge vs embedding alone with a small model
(``--small-model``, on by default there): the 270m shape's architecture at width 64 with one
layer embeds about as fast on one CPU thread as the full 270m shape on an H200, and with the
GPU's batch budget (65,536 tokens) it batches as there, so the pipeline's own costs weigh as
they do on the GPU (the ratio printed is the one ``gpu.sh`` measures).

Each ingest row also says where its time beyond the embedding went (:class:`EmbedTimeline`):
before the first embedding call, between calls, and after the last. ``--runs N`` takes the best
of N for embedding alone and for each ingest (a new collection each time; ``gpu.sh``: 3, as
its runs last about a second each).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import _WORDS, corpus, model_folder, table
from harrier.testing import ModelShape, build_model

MEMORY_BUDGET_MIB = 2048
"""What a default CPU ingest of the mixed folder may peak at (the README states it)."""
SMALL_SHAPE = ModelShape("gemma3_text", 64, 1, 1, 1, 16, 64, 4000, 32_768, 512)
"""Embeds ~300k tok/s on one CPU thread: the rate of the full 270m shape on an H200."""
GPU_BATCH_TOKENS = 65_536
"""The engine's batch budget on CUDA."""
SMALL_CORPUS = {"documents": 256, "span_tokens": 4096}
"""The GPU profile's corpus (run.py), whatever ``--documents`` and ``--span-tokens`` say."""


def _stores(work: Path) -> dict[str, object]:
    stores: dict[str, object] = {}
    try:
        from harrier_qdrant import QdrantStore

        stores["qdrant (edge, the default)"] = lambda name: QdrantStore(name, path=work / "edge")
        stores["qdrant-local (local mode)"] = lambda name: QdrantStore(
            name, path=work / "qdrant", local_mode=True
        )
    except ImportError:
        pass
    try:
        from harrier_milvus import MilvusStore

        stores["milvus lite"] = lambda name: MilvusStore(name, path=work / "milvus.db")
    except ImportError:
        pass
    return stores


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--documents", type=int, default=64)
    parser.add_argument("--min-tokens", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--span-tokens", type=int, default=1024)
    parser.add_argument("--device", default=None)
    parser.add_argument("--edge-only", action="store_true", help="only the default store")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    parser.add_argument("--memory", action="store_true", help="peak memory of a default ingest")
    parser.add_argument(
        "--full-length", action="store_true", help="with --memory: also 32,768-token spans"
    )
    parser.add_argument("--long-words", type=int, default=20_000, help="the long text file")
    parser.add_argument(
        "--small-model",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also ingest vs embed with a GPU-fast small model (default: on a CPU)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="small model: best of N")
    parser.add_argument(
        "--steady-documents",
        type=int,
        default=0,
        help="also ingest this many documents into Edge vs embedding them alone: a run long "
        "enough that its fixed costs (first split, last write, flush) weigh little",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="embedding only and each ingest: best of N"
    )
    args = parser.parse_args(argv)
    if args.memory:
        return memory(args)

    import harrier

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    texts = corpus(engine.tokenizer, args.documents, args.min_tokens, args.max_tokens, seed=2)
    docs = [harrier.SourceDocument(f"doc-{i}", t, {"i": i}) for i, t in enumerate(texts)]
    spans = [s for t in texts for s in harrier.split_spans(t, engine, max_tokens=args.span_tokens)]
    tokens = sum(s.token_count for s in spans)
    warm_up = spans if engine.device.type == "cuda" else spans[:2]
    engine.embed_documents([s.text for s in warm_up])  # GPU: a full pass (clocks, kernels)

    embed_only = min(
        _seconds(lambda: engine.embed_documents([s.text for s in spans])) for _ in range(args.runs)
    )
    rows = [
        {
            "case": "embedding only (engine)",
            "spans": len(spans),
            "tokens": tokens,
            "tok/s": tokens / embed_only,
            "ratio to embedding only": 1.0,
        }
    ]

    with tempfile.TemporaryDirectory() as tmp:
        stores = _stores(Path(tmp))
        if args.edge_only:
            stores = {k: v for k, v in stores.items() if k.startswith("qdrant (edge")}
        timeline = EmbedTimeline(engine)
        for name, open_store in stores.items():
            report, columns = timeline.best(
                args.runs,
                lambda run, open_store=open_store: open_store(f"bench{run}"),
                docs,
                engine,
                max_tokens=args.span_tokens,
            )
            rows.append(
                {
                    "case": f"harrier ingest -> {name}",
                    "spans": report.spans_written,
                    "tokens": report.tokens,
                    "tok/s": report.tokens / report.seconds,
                    "ratio to embedding only": embed_only / report.seconds,
                    **columns,
                }
            )
        if not args.edge_only:
            rows.append(_langchain_row(Path(tmp), folder, args, spans, tokens, embed_only))
        shutil.rmtree(tmp, ignore_errors=True)
    if args.steady_documents:
        texts = corpus(engine.tokenizer, args.steady_documents, args.min_tokens, args.max_tokens)
        rows += edge_rows(
            f"{args.steady_documents:,} documents",
            f"{args.shape}, {args.steady_documents:,} documents (steady state)",
            engine,
            texts,
            args.span_tokens,
            args.runs,
        )
    if args.small_model or (args.small_model is None and engine.device.type == "cpu"):
        rows += small_model_rows(Path(args.cache), args)
    print(table(rows))
    return rows


def small_model_rows(cache: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    """Ingestion into Edge vs embedding the same spans alone (:func:`edge_rows`) with
    :data:`SMALL_SHAPE` on one CPU thread and the GPU's batch budget, over the GPU profile's
    corpus, best of ``--repeat``."""
    import torch

    import harrier

    folder = cache / "small-gemma3-w64-L1"
    if not (folder / "model.safetensors").exists():
        build_model(folder, SMALL_SHAPE, tokenizer_vocab=4000)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a GPU: the engine leaves the cores to the pipeline
    try:
        engine = harrier.Embedder.from_pretrained(
            folder, device="cpu", max_batch_tokens=GPU_BATCH_TOKENS
        )
        texts = corpus(engine.tokenizer, SMALL_CORPUS["documents"], 64, 4096, seed=2)
        return edge_rows(
            "small model (GPU-fast on a CPU)",
            f"small model ({SMALL_SHAPE.model_type}, width {SMALL_SHAPE.hidden_size}, 1 layer, "
            f"one CPU thread, {GPU_BATCH_TOKENS:,}-token batches)",
            engine,
            texts,
            SMALL_CORPUS["span_tokens"],
            args.repeat,
        )
    finally:
        torch.set_num_threads(threads)


def edge_rows(
    name: str, label: str, engine, texts: list[str], span_tokens: int, runs: int
) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Ingestion of ``texts`` into Edge (default settings: BM25 on) vs embedding their spans
    alone, best of ``runs`` each (a fresh collection each time); prints the ratio."""
    import harrier
    from harrier_qdrant import QdrantStore

    docs = [harrier.SourceDocument(f"doc-{i}", t, {"i": i}) for i, t in enumerate(texts)]
    split = harrier.Splitter(engine, max_tokens=span_tokens).split_many(texts)
    spans = [s.text for doc_spans in split for s in doc_spans]
    engine.embed_documents(spans[:8])
    alone = min(_seconds(lambda: engine.embed_documents(spans)) for _ in range(runs))
    with tempfile.TemporaryDirectory() as tmp:
        report, columns = EmbedTimeline(engine).best(
            runs,
            lambda run: QdrantStore("bench", path=Path(tmp) / f"edge{run}"),
            docs,
            engine,
            max_tokens=span_tokens,
        )
    ratio = alone / report.seconds
    print(
        f"{label}: ingest into Edge {report.tokens / report.seconds:,.0f} tok/s vs embedding "
        f"alone {report.tokens / alone:,.0f} tok/s: {ratio:.2f}x (the GPU's target: >= 0.9x)"
    )
    return [
        {
            "case": f"{name}: embedding only",
            "spans": len(spans),
            "tokens": report.tokens,
            "tok/s": report.tokens / alone,
            "ratio to embedding only": 1.0,
        },
        {
            "case": f"{name}: harrier ingest -> qdrant (edge, the default)",
            "spans": report.spans_written,
            "tokens": report.tokens,
            "tok/s": report.tokens / report.seconds,
            "ratio to embedding only": ratio,
            **columns,
        },
    ]


class EmbedTimeline:
    """When the engine's embedding calls ran during one ingest: the pipeline's own costs are the
    time before the first call (collection, first group read and split), the gaps between calls
    (the embed stage waiting on reading or on the writer), and the time after the last (the last
    write, the flush)."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.calls: list[tuple[float, float]] = []
        for name in ("embed_token_ids", "embed_documents"):
            self._wrap(engine, name)

    def _wrap(self, engine, name: str) -> None:  # type: ignore[no-untyped-def]
        method = getattr(engine, name)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls.append((started, time.perf_counter()))

        setattr(engine, name, timed)

    def ingest(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        """``harrier.ingest(*args, **kwargs)``, timed around these calls."""
        import harrier

        self.calls.clear()
        self.started = time.perf_counter()
        report = harrier.ingest(*args, **kwargs)
        self.ended = time.perf_counter()
        return report

    def best(self, runs: int, open_store, docs, *args, **kwargs):  # type: ignore[no-untyped-def]
        """The fastest of ``runs`` ingests, each into ``open_store(run)`` (a new collection), as
        ``(report, columns)``."""
        results = []
        for run in range(runs):
            store = open_store(run)
            report = self.ingest(docs, store, *args, **kwargs)
            results.append((report, self.columns()))
            store.close()
        return min(results, key=lambda result: result[0].seconds)

    def columns(self) -> dict[str, float]:
        calls = sorted(self.calls)
        gaps = sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(calls))
        return {
            "ms before 1st embed": 1000 * (calls[0][0] - self.started),
            "ms between embeds": 1000 * gaps,
            "ms after last embed": 1000 * (self.ended - calls[-1][1]),
        }


def _seconds(work) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _langchain_row(work, folder, args, spans, tokens, embed_only):  # type: ignore[no-untyped-def]
    """LangChain's own loop: QdrantVectorStore.add_documents with HarrierEmbeddings."""
    case = "langchain_qdrant add_documents (same spans)"
    try:
        from langchain_core.documents import Document
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient, models

        from langchain_harrier import HarrierEmbeddings
    except ImportError as exc:
        return {"case": f"{case}: skipped ({exc.name} not installed)"}

    embeddings = HarrierEmbeddings(model=str(folder), device=args.device)
    client = QdrantClient(path=str(work / "langchain-qdrant"))
    client.create_collection(
        "lc",
        vectors_config=models.VectorParams(
            size=embeddings.embedder.dimension, distance=models.Distance.COSINE
        ),
    )
    store = QdrantVectorStore(client=client, collection_name="lc", embedding=embeddings)
    documents = [Document(page_content=s.text) for s in spans]
    started = time.perf_counter()
    store.add_documents(documents)
    seconds = time.perf_counter() - started
    client.close()
    return {
        "case": case,
        "spans": len(spans),
        "tokens": tokens,
        "tok/s": tokens / seconds,
        "ratio to embedding only": embed_only / seconds,
    }


def mixed_folder(folder: Path, long_words: int) -> Path:
    """Real formats, a long text file and some short ones."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from document_files import write_all

    write_all(folder)
    rng = random.Random(3)
    (folder / "long.txt").write_text(
        " ".join(rng.choice(_WORDS) for _ in range(long_words)), encoding="utf-8"
    )
    for i in range(20):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(50, 800)))
        (folder / f"note-{i:02d}.md").write_text(f"# Note {i}\n\n{words}\n", encoding="utf-8")
    return folder


def memory(args: argparse.Namespace) -> list[dict[str, object]]:
    """Each case in its own process: ``harrier ingest`` on the CPU, its peak RSS."""
    model = model_folder(Path(args.cache), args.shape, args.layers or None)
    cases = [("default settings", []), ("--max-tokens 512", ["--max-tokens", "512"])]
    if args.full_length:
        cases.append(("--max-tokens 32768 (the model's length)", ["--max-tokens", "32768"]))
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = mixed_folder(Path(tmp) / "docs", args.long_words)
        for name, extra in cases:
            command = [
                *("ingest", str(folder), "--collection", "m", "--model", str(model)),
                *("--store", f"qdrant:{Path(tmp) / name.replace(' ', '_')}", "--device", "cpu"),
                *("--json", "--quiet", *extra),
            ]
            child = subprocess.run(
                [sys.executable, __file__, "--memory-child", json.dumps(command)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            report = result["report"]
            rows.append(
                {
                    "case": name,
                    "peak RSS MiB": result["peak_mib"],
                    "converter MiB": result["children_mib"],
                    "under budget": result["peak_mib"] < MEMORY_BUDGET_MIB,
                    "spans": report["spans_written"],
                    "tokens": report["tokens"],
                    "seconds": report["seconds"],
                }
            )
    base = rows[0]["peak RSS MiB"]
    for row in rows:
        row["ratio to default"] = float(row["peak RSS MiB"]) / float(base)  # type: ignore[arg-type]
    print(
        f"model {args.shape}, {model_folder.__name__}: {model.name}; budget {MEMORY_BUDGET_MIB} MiB"
    )
    print(table(rows))
    return rows


def _memory_child(command: list[str]) -> None:
    """Run the command here and print its report with this process's peak RSS."""
    import contextlib
    import io

    from harrier.cli import main as cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(command)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    print(json.dumps({"peak_mib": peak, "children_mib": children, "report": report}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory-child"]:
        _memory_child(json.loads(sys.argv[2]))
    else:
        main()
