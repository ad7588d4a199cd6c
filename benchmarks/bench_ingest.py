"""Ingestion: end to end (read, split, embed, write) vs embedding only, on embedded stores,
and harrier's ingestion vs ``langchain_qdrant.QdrantVectorStore.add_documents`` with the same
embeddings and the same spans.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import corpus, model_folder, table


def _stores(work: Path) -> dict[str, object]:
    stores: dict[str, object] = {}
    try:
        from harrier_qdrant import QdrantStore

        stores["qdrant (edge, the default)"] = lambda: QdrantStore("bench", path=work / "edge")
        stores["qdrant-local (local mode)"] = lambda: QdrantStore(
            "bench", path=work / "qdrant", local_mode=True
        )
    except ImportError:
        pass
    try:
        from harrier_milvus import MilvusStore

        stores["milvus lite"] = lambda: MilvusStore("bench", path=work / "milvus.db")
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
    args = parser.parse_args(argv)

    import harrier

    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    texts = corpus(engine.tokenizer, args.documents, args.min_tokens, args.max_tokens, seed=2)
    docs = [harrier.SourceDocument(f"doc-{i}", t, {"i": i}) for i, t in enumerate(texts)]
    spans = [s for t in texts for s in harrier.split_spans(t, engine, max_tokens=args.span_tokens)]
    tokens = sum(s.token_count for s in spans)
    warm_up = spans if engine.device.type == "cuda" else spans[:2]
    engine.embed_documents([s.text for s in warm_up])  # GPU: a full pass (clocks, kernels)

    started = time.perf_counter()
    engine.embed_documents([s.text for s in spans])
    embed_only = time.perf_counter() - started
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
        for name, open_store in stores.items():
            store = open_store()  # type: ignore[operator]
            report = harrier.ingest(docs, store, engine, max_tokens=args.span_tokens)
            store.close()
            rows.append(
                {
                    "case": f"harrier ingest -> {name}",
                    "spans": report.spans_written,
                    "tokens": report.tokens,
                    "tok/s": report.tokens / report.seconds,
                    "ratio to embedding only": embed_only / report.seconds,
                }
            )
        if not args.edge_only:
            rows.append(_langchain_row(Path(tmp), folder, args, spans, tokens, embed_only))
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows))
    return rows


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


if __name__ == "__main__":
    main()
