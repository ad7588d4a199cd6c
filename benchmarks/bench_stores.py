"""Embedded stores as they grow: Qdrant Edge, qdrant-client local mode and Milvus Lite.

Per store and size (spans of dimension 640, ~1.5 KB of text, clustered like real embeddings):
upsert spans/s, index build time, search p50/p99 with and without a metadata filter,
recall@10 against exact search (Edge also with scalar and binary quantization), disk size,
peak RSS; and ``Index.ingest`` with a tiny model (so the store dominates) of documents of ~300
words split at 128 tokens into a collection of that size, as a ratio to embedding the same spans
alone, then a re-run of the unchanged documents (ms per document). Each case runs in its own
process (peak RSS is its own). Local mode and Lite are slow at scale: sizes above
``--slow-cap`` are skipped for them, with the trend measured below it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import table

DIM = 640
BATCH = 128
CENTERS = 256
TEXT = ("Rivers carry water from the hills down to the sea; " * 30)[:1500]
LANGS = ["en", "fr", "de", "zh", "ja", "ru", "ar", "es"]
STORES = ("edge", "local", "lite")


def _open(kind: str, folder: Path, collection: str, quantization: str | None = None):  # type: ignore[no-untyped-def]
    if kind == "edge":
        from harrier_qdrant import QdrantEdgeStore

        return QdrantEdgeStore(collection, path=folder / "edge", quantization=quantization)
    if kind == "local":
        from harrier_qdrant import QdrantStore

        return QdrantStore(collection, path=folder / "local", local_mode=True)
    from harrier_milvus import MilvusStore

    return MilvusStore(collection, path=folder / "lite.db")


def _vectors(batch: int, size: int) -> np.ndarray:
    """Batch ``batch`` of the synthetic corpus: unit vectors around shared centres."""
    centers = np.random.default_rng(0).standard_normal((CENTERS, DIM)).astype(np.float32)
    rng = np.random.default_rng(batch + 1)
    chosen = centers[rng.integers(0, CENTERS, size)]
    vectors = chosen + 0.6 * rng.standard_normal((size, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _records(batch: int, size: int):  # type: ignore[no-untyped-def]
    from harrier import SpanRecord, span_id

    vectors = _vectors(batch, size)
    return [
        SpanRecord(
            id=span_id(f"d{batch}", i),
            vector=vectors[i],
            text=TEXT,
            doc_id=f"d{batch}",
            span_index=i,
            span_count=size,
            start=0,
            end=1500,
            token_count=300,
            doc_hash="h",
            model="bench",
            metadata={"lang": LANGS[(batch + i) % len(LANGS)]},
        )
        for i in range(size)
    ]


def _exact_top(queries: np.ndarray, spans: int, k: int = 10) -> list[set[str]]:
    """The exact top-k ids per query, streaming the corpus batch by batch."""
    from harrier import span_id

    best = [[] for _ in queries]  # type: list[list[tuple[float, str]]]
    for batch in range(spans // BATCH):
        scores = queries @ _vectors(batch, BATCH).T
        for q, row in enumerate(scores):
            top = np.argpartition(-row, k)[:k]
            best[q] = sorted(
                best[q] + [(float(row[i]), span_id(f"d{batch}", int(i))) for i in top], reverse=True
            )[:k]
    return [{rid for _, rid in b} for b in best]


def _search(store, queries: np.ndarray, flt, budget_s: float) -> tuple[list[float], list[list]]:  # type: ignore[no-untyped-def]
    times, hits = [], []
    started = time.perf_counter()
    for query in queries:
        t = time.perf_counter()
        hits.append(store.search_vector(query, 10, flt))
        times.append(time.perf_counter() - t)
        if time.perf_counter() - started > budget_s:
            break
    return times, hits


def _vector_case(kind: str, spans: int, work: Path, quantization: str | None) -> dict:
    from harrier import ModelIdentity

    store = _open(kind, work, "vectors", quantization)
    store.create_collection(ModelIdentity("bench", None), DIM)
    started = time.perf_counter()
    for batch in range(spans // BATCH):
        store.upsert(_records(batch, BATCH))
    upsert_s = time.perf_counter() - started
    started = time.perf_counter()
    store.end_bulk_load()
    index_s = time.perf_counter() - started
    queries = _vectors(10**6, 100)
    times, hits = _search(store, queries, None, 60.0)
    exact = _exact_top(queries[: len(hits)], spans)
    recall = np.mean(
        [len({h.id for h in got} & ref) / 10 for got, ref in zip(hits, exact, strict=True)]
    )
    filtered, _ = _search(store, queries, {"lang": "fr"}, 30.0)
    store.close()
    return {
        "upsert spans/s": spans / upsert_s,
        "index build s": index_s,
        "search p50 ms": 1000 * float(np.median(times)),
        "search p99 ms": 1000 * float(np.percentile(times, 99)),
        "filtered p50 ms": 1000 * float(np.median(filtered)),
        "filtered p99 ms": 1000 * float(np.percentile(filtered, 99)),
        "recall@10": float(recall),
    }


def _ingest_case(
    kind: str, spans: int, work: Path, model: Path, device: str, documents: int
) -> dict:
    """``Index.ingest`` of ``documents`` new documents into a collection already holding
    ``spans`` spans, against embedding the same spans alone; then a re-run of them."""
    import harrier

    engine = harrier.Embedder.from_pretrained(model, device=device)
    words = TEXT.split()
    docs = [
        harrier.SourceDocument(
            f"doc-{i}",
            " ".join(f"{words[(i + j) % len(words)]}{j % 97}" for j in range(300)),
            {"i": i},
        )
        for i in range(documents)
    ]
    store = _open(kind, work, "ingest")
    store.create_collection(engine.identity, engine.dimension)
    for batch in range(spans // BATCH):  # the collection's earlier contents
        store.upsert(
            [
                r.__class__(**{**r.__dict__, "vector": r.vector[: engine.dimension]})
                for r in _records(batch, BATCH)
            ]
        )
    store.end_bulk_load()
    texts = [s.text for d in docs for s in harrier.split_spans(d.text, engine, max_tokens=128)]
    engine.embed_documents(texts[:64])  # warm-up: thread pools, first-call costs
    started = time.perf_counter()
    engine.embed_documents(texts)
    embed_s = time.perf_counter() - started
    index = harrier.Index(store, engine)
    first = index.ingest(docs, max_tokens=128)
    started = time.perf_counter()
    again = index.ingest(docs, max_tokens=128)
    rerun = time.perf_counter() - started
    assert again.unchanged == len(docs) and first.spans_written == len(texts)
    index.close()
    return {
        "ingest spans/s": first.spans_written / first.seconds,
        "ingest / embed only": embed_s / first.seconds,
        "re-run ms/doc": 1000 * rerun / len(docs),
    }


def _disk_mib(folder: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 2**20


def child(
    kind: str, spans: int, model: str, quantization: str | None, device: str, documents: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        row = _vector_case(kind, spans, work, quantization)
        row["disk MiB"] = _disk_mib(work)
        if device != "-":
            row.update(_ingest_case(kind, spans, work, Path(model), device, documents))
    row["peak RSS MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("ROW " + json.dumps(row))


def _tiny_model(cache: Path) -> Path:
    """A one-layer, 64-wide Gemma-shaped model: embedding costs little next to the store."""
    from harrier.testing import SHAPES, build_model

    folder = cache / "tiny-store-bench"
    if not (folder / "model.safetensors").exists():
        shape = SHAPES["harrier-270m"]
        spec = type(shape)(shape.model_type, 64, 1, 2, 1, 32, 128, 4000, 32_768, 512)
        build_model(folder, spec, tokenizer_vocab=4000)
    return folder


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--large", action="store_true", help="add 1,000,000 spans")
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument(
        "--slow-cap",
        type=int,
        default=10_000,
        help="largest size for local mode and Milvus Lite (default 10000)",
    )
    parser.add_argument("--no-quantization", action="store_true")
    parser.add_argument("--device", default="cpu", help="for the tiny model of the ingest case")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    parser.add_argument(
        "--documents",
        type=int,
        default=300,
        help="documents (~3.7 spans each) ingested into each collection",
    )
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, spans, model, quant, device, documents = args.child
        child(kind, int(spans), model, None if quant == "-" else quant, device, int(documents))
        return []
    model = _tiny_model(Path(args.cache))
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.large else [])
    rows: list[dict[str, object]] = []
    for kind in args.stores.split(","):
        for spans in sizes:
            if kind != "edge" and spans > args.slow_cap:
                rows.append(
                    {
                        "store": kind,
                        "spans": spans,
                        "note": f"skipped above --slow-cap {args.slow_cap}: see the "
                        "trend at smaller sizes",
                    }
                )
                continue
            quants = (
                [None] if kind != "edge" or args.no_quantization else [None, "scalar", "binary"]
            )
            for quant in quants:
                rows.append(
                    {
                        "store": kind + (f" ({quant})" if quant else ""),
                        "spans": spans,
                        **_run_child(
                            kind,
                            spans,
                            model,
                            quant,
                            args.device if quant is None else "-",
                            args.documents,
                        ),
                    }
                )
                print(table(rows[-1:]), flush=True)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    rows = [{k: row.get(k, "") for k in keys} for row in rows]
    print(table(rows))
    return rows


def _run_child(
    kind: str, spans: int, model: Path, quant: str | None, device: str, documents: int
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        str(spans),
        str(model),
        quant or "-",
        device,
        str(documents),
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    for line in out.stdout.splitlines():
        if line.startswith("ROW "):
            return json.loads(line[4:])
    return {"note": f"failed: {out.stderr.strip().splitlines()[-1:]}"}


if __name__ == "__main__":
    main()
