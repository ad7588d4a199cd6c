"""Hybrid retrieval: what BM25 vectors cost at ingestion, and search latency per mode.

1. Ingestion (read, split, embed, write) of the same corpus into new collections with and
   without BM25 vectors, on each embedded store; the BM25 share of the ingestion time.
2. Search p50 per mode (dense, sparse, hybrid) over ``--spans`` stored spans on the embedded
   Qdrant store (records written directly: random unit vectors, texts of corpus words).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import _WORDS, corpus, load_random_spans, model_folder, random_unit_vectors, table


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--documents", type=int, default=48)
    parser.add_argument("--span-tokens", type=int, default=1024)
    parser.add_argument("--spans", type=int, default=100_000, help="spans for the search part")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--device", default=None)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)
    rows = _ingestion(args)
    if args.spans:
        rows += _search(args)
    rows = [{key: row.get(key, "") for key in COLUMNS} for row in rows]
    print(table(rows))
    return rows


COLUMNS = ("case", "spans", "spans/s", "p50 ms", "BM25 share")


def _ingestion(args: argparse.Namespace) -> list[dict[str, object]]:
    import harrier
    from harrier.stores.registry import open_store

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    texts = corpus(engine.tokenizer, args.documents, 64, 4096, seed=2)
    docs = [harrier.SourceDocument(f"doc-{i}", t, {"i": i}) for i, t in enumerate(texts)]
    engine.embed_documents(texts[:2])  # warm-up
    spans = [
        s.text for t in texts for s in harrier.split_spans(t, engine, max_tokens=args.span_tokens)
    ]
    encoder = harrier.Bm25Encoder()
    started = time.perf_counter()
    for text in spans:
        encoder.embed_document(text)
    encoding = time.perf_counter() - started
    rows: list[dict[str, object]] = [
        {
            "case": "BM25 vectors alone (Bm25Encoder)",
            "spans": len(spans),
            "spans/s": len(spans) / encoding,
        }
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("qdrant", "milvus"):
            seconds = {}
            for sparse in (False, True):
                spec = f"{kind}:{Path(tmp) / f'{kind}-{sparse}'}"
                try:
                    store = open_store(spec, "bench", sparse=sparse)
                except harrier.ConfigurationError:  # the store's extra is not installed
                    break
                report = harrier.ingest(docs, store, engine, max_tokens=args.span_tokens)
                store.close()
                seconds[sparse] = report.seconds
                row = {
                    "case": f"ingest -> {kind}, {'dense + BM25' if sparse else 'dense only'}",
                    "spans": report.spans_written,
                    "spans/s": report.spans_written / report.seconds,
                }
                if sparse and False in seconds:
                    # measured: the time difference (noisy on a shared machine); computed: the
                    # client-side BM25 encoding time over the dense-only ingestion time
                    extra = (report.seconds - seconds[False]) / report.seconds
                    row["BM25 share"] = (
                        f"{100 * extra:.1f}% measured, "
                        f"{100 * encoding / seconds[False]:.1f}% encoding"
                    )
                rows.append(row)
    return rows


def _search(args: argparse.Namespace) -> list[dict[str, object]]:
    import harrier
    from harrier.stores.registry import open_store

    rng = random.Random(3)
    dimension = 640
    words = [w for w in _WORDS if w.isalpha()] + [f"term{i}" for i in range(5000)]
    vectors = random_unit_vectors(args.spans, dimension)
    identity = harrier.ModelIdentity("bench", "0" * 64)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"qdrant:{Path(tmp) / 'search'}", "bench")
        load = load_random_spans(
            store,
            identity,
            vectors,
            lambda _: " ".join(rng.choice(words) for _ in range(rng.randint(50, 300))),
        )
        rows.append(
            {
                "case": f"load + index {args.spans:,} spans (dense + BM25), {store!r}",
                "spans": args.spans,
                "spans/s": args.spans / load,
            }
        )
        index = _QueryIndex(store)
        for mode in ("dense", "sparse", "hybrid"):
            times = []
            for q in range(args.queries):
                query = " ".join(rng.choice(words) for _ in range(3))
                vector = vectors[rng.randrange(args.spans)]
                started = time.perf_counter()
                index.search(mode, vector, query)
                times.append(time.perf_counter() - started)
                if q == 0:
                    times.clear()  # the first query warms caches
            rows.append(
                {
                    "case": f"search p50, {mode}, k=10",
                    "spans": args.spans,
                    "p50 ms": 1000 * statistics.median(times),
                }
            )
        store.close()
    return rows


class _QueryIndex:
    """The store's three searches with a given query vector (no model in the loop)."""

    def __init__(self, store: object) -> None:
        self.store = store

    def search(self, mode: str, vector: np.ndarray, text: str) -> object:
        if mode == "dense":
            return self.store.search_vector(vector, 10)  # type: ignore[attr-defined]
        if mode == "sparse":
            return self.store.search_sparse(text, 10)  # type: ignore[attr-defined]
        return self.store.search_hybrid(vector, text, 10)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
