"""A harrier collection as LangChain's vector store: ingest a folder, then search it with
LangChain, keep it in step with LangChain's indexing API, and see the same hits from harrier.

    python examples/langchain_vectorstore.py                         # the 270m model, ./.harrier
    python examples/langchain_vectorstore.py --model ./my-model --store milvus:./m.db

The folder's files are split into spans exactly as ``harrier ingest`` splits them
(``split=True``), so the collection is the one the command line would write, and
``harrier search`` reads it too.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from langchain_classic.indexes import SQLRecordManager
from langchain_core.documents import Document
from langchain_core.indexing import index

import harrier
from langchain_harrier import HarrierEmbeddings, HarrierVectorStore

CORPUS = Path(__file__).parent / "corpus" / "en"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=harrier.DEFAULT_MODEL)
    parser.add_argument("--store", default="qdrant", help="a store spec (default: %(default)s)")
    parser.add_argument("--collection", default="langchain-example")
    parser.add_argument("--query", default="How do I reset my password?")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    embeddings = HarrierEmbeddings(model=args.model, device=args.device)
    store = HarrierVectorStore(
        embeddings,
        collection_name=args.collection,
        store=args.store,
        split=True,
        max_tokens=args.max_tokens,
    )
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    documents = [
        Document(p.read_text(encoding="utf-8"), id=p.name, metadata={"source": p.name})
        for p in files
    ]
    store.add_documents(documents)
    print(f"stored {len(documents)} files as {store.store.count()} spans")

    print(f"query: {args.query!r}")
    for rank, (doc, score) in enumerate(
        store.similarity_search_with_score(args.query, k=3), start=1
    ):
        where = f"{doc.id}@{doc.metadata['start']}-{doc.metadata['end']}"
        print(f"{rank}. {score:.4f} {where}")
    hits = harrier.Index(store.store, embeddings.embedder).search(args.query, k=3, mode="dense")
    print("harrier.Index.search: " + " ".join(f"{h.doc_id}@{h.start}-{h.end}" for h in hits))

    with tempfile.TemporaryDirectory() as folder:  # the record manager's own database
        records = SQLRecordManager(args.collection, db_url=f"sqlite:///{folder}/records.db")
        records.create_schema()
        notes = [Document(f"Note {i}: the office opens at {8 + i} am.") for i in range(3)]
        for note in notes:
            note.metadata["source"] = "notes.txt"
        sync = {"cleanup": "incremental", "source_id_key": "source", "key_encoder": "sha256"}
        store.split = False  # notes are short: each is stored whole
        print("index():", index(notes, records, store, **sync))
        print("index() again:", index(notes, records, store, **sync))
        print("index() with one note left:", index(notes[:1], records, store, **sync))
    store.close()


if __name__ == "__main__":
    main()
