"""The framework vector stores' cost over harrier's own paths, on the embedded Qdrant Edge store.

1. Writing: ``langchain_harrier.HarrierVectorStore.add_documents`` of ``--texts`` short texts
   vs ``harrier.ingest`` of the same texts (same model, fresh collections), best of
   ``--repeat`` runs each, interleaved; the ratio is ingest time / add_documents time
   (>= 0.9 is the target).
2. Searching: ``HarrierVectorStore.similarity_search`` vs ``Index.search`` (dense, k=5) over
   ``--spans`` stored spans (records written directly, random unit vectors, HNSW index built),
   the same queries interleaved; the overhead is the difference of the medians (<= 1 ms is the
   target), also measured without the query embedding (``similarity_search_by_vector`` vs the
   store's ``search_vector``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import _WORDS, load_random_spans, model_folder, random_unit_vectors, table

COLUMNS = ["case", "n", "harrier", "framework", "ratio / overhead"]


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--texts", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spans", type=int, default=100_000, help="spans for the search part")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--device", default=None)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)
    import harrier

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    rows = _writing(args, engine)
    print(table(rows), flush=True)  # each part as soon as it is measured
    if args.spans:
        rows += _searching(args, engine)
        print(table(rows[1:]), flush=True)
    return rows


def _writing(args: argparse.Namespace, engine: object) -> list[dict[str, object]]:
    from langchain_core.documents import Document

    import harrier
    from langchain_harrier import HarrierEmbeddings, HarrierVectorStore

    rng = random.Random(1)
    texts = [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 30))) for _ in range(args.texts)
    ]
    documents = [Document(text, id=f"t{i}", metadata={"i": i}) for i, text in enumerate(texts)]
    sources = [harrier.SourceDocument(f"t{i}", text, {"i": i}) for i, text in enumerate(texts)]
    embeddings = HarrierEmbeddings(embedder=engine)  # type: ignore[call-arg]
    ingest_times, add_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            store = harrier.framework_stores.open_collection(f"qdrant:{tmp}/i{run}", "docs")
            started = time.perf_counter()
            harrier.ingest(sources, store, engine)  # type: ignore[arg-type]
            ingest_times.append(time.perf_counter() - started)
            store.close()
            vector_store = HarrierVectorStore(embeddings, store=f"qdrant:{tmp}/v{run}")
            started = time.perf_counter()
            vector_store.add_documents(documents)
            add_times.append(time.perf_counter() - started)
            assert vector_store.store.count() == len(documents)
            vector_store.close()
    best_ingest, best_add = min(ingest_times), min(add_times)
    return [
        {
            "case": f"write {args.texts:,} short texts (s, best of {args.repeat}): ingest vs "
            "add_documents",
            "n": args.texts,
            "harrier": f"{best_ingest:.2f}",
            "framework": f"{best_add:.2f}",
            "ratio / overhead": f"{best_ingest / best_add:.2f}x",
        }
    ]


def _searching(args: argparse.Namespace, engine: object) -> list[dict[str, object]]:
    import harrier
    from langchain_harrier import HarrierEmbeddings, HarrierVectorStore

    dimension = engine.dimension  # type: ignore[attr-defined]
    rng = random.Random(3)
    words = [w for w in _WORDS if w.isalpha()]
    vectors = random_unit_vectors(args.spans, dimension)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = harrier.framework_stores.open_collection(f"qdrant:{tmp}/s", "docs")
        elapsed = load_random_spans(
            store,
            engine.identity,  # type: ignore[attr-defined]
            vectors,
            lambda _: " ".join(rng.choice(words) for _ in range(30)),
        )
        print(f"loaded and indexed {args.spans:,} spans in {elapsed:.0f} s", flush=True)
        index = harrier.Index(store, engine)  # type: ignore[arg-type]
        vector_store = HarrierVectorStore(
            HarrierEmbeddings(embedder=engine),  # type: ignore[call-arg]
            store=store,
        )
        queries = [" ".join(rng.choice(words) for _ in range(4)) for _ in range(args.queries)]
        query_vectors = [vectors[rng.randrange(args.spans)] for _ in range(args.queries)]
        timed = {
            "search": (
                lambda q, v: index.search(q, k=5, mode="dense"),
                lambda q, v: vector_store.similarity_search(q, k=5),
            ),
            "by vector": (
                lambda q, v: store.search_vector(v, 5),
                lambda q, v: vector_store.similarity_search_by_vector(v.tolist(), k=5),
            ),
        }
        for name, (ours, theirs) in timed.items():
            base, framework = [], []
            for query, vector in zip(queries, query_vectors, strict=True):
                for fn, times in ((ours, base), (theirs, framework)):
                    started = time.perf_counter()
                    fn(query, vector)
                    times.append(time.perf_counter() - started)
            base_ms = statistics.median(base[1:]) * 1e3
            framework_ms = statistics.median(framework[1:]) * 1e3
            rows.append(
                {
                    "case": f"{name} p50 (ms), k=5: "
                    + (
                        "Index.search vs similarity_search"
                        if name == "search"
                        else "store.search_vector vs similarity_search_by_vector"
                    ),
                    "n": args.spans,
                    "harrier": f"{base_ms:.3f}",
                    "framework": f"{framework_ms:.3f}",
                    "ratio / overhead": f"{framework_ms - base_ms:+.3f} ms",
                }
            )
        vector_store.close()
    return rows


if __name__ == "__main__":
    main()
