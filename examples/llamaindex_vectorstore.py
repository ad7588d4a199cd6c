"""A harrier collection as LlamaIndex's vector store: an IngestionPipeline with a docstore
(re-runs write nothing, a changed file replaces its nodes), then filtered retrieval.

    python examples/llamaindex_vectorstore.py                        # the 270m model, ./.harrier
    python examples/llamaindex_vectorstore.py --model ./my-model --store milvus:./m.db
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

import harrier
from llama_index.embeddings.harrier import HarrierEmbedding, HarrierNodeParser
from llama_index.vector_stores.harrier import HarrierVectorStore

CORPUS = Path(__file__).parent / "corpus"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=harrier.DEFAULT_MODEL)
    parser.add_argument("--store", default="qdrant", help="a store spec (default: %(default)s)")
    parser.add_argument("--collection", default="llamaindex-example")
    parser.add_argument("--query", default="How do I reset my password?")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    embed_model = HarrierEmbedding(model=args.model, device=args.device)
    vector_store = HarrierVectorStore(args.collection, args.store, embed_model=embed_model)
    pipeline = IngestionPipeline(
        transformations=[HarrierNodeParser(embed_model, max_tokens=args.max_tokens), embed_model],
        vector_store=vector_store,
        docstore=SimpleDocumentStore(),
    )
    documents = [
        Document(
            text=p.read_text(encoding="utf-8"),
            id_=f"{p.parent.name}/{p.name}",
            metadata={"lang": p.parent.name},
        )
        for p in sorted(CORPUS.glob("*/*"))
        if p.is_file()
    ]
    print(f"first run: {len(pipeline.run(documents=documents))} nodes written")
    print(f"second run: {len(pipeline.run(documents=documents))} nodes written")
    changed = Document(
        text=documents[0].text + "\nUpdated.", id_=documents[0].id_, metadata=documents[0].metadata
    )
    print(f"one file changed: {len(pipeline.run(documents=[changed]))} nodes written")

    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
    english = MetadataFilters(filters=[MetadataFilter(key="lang", value="en")])
    print(f"query: {args.query!r} (lang == 'en')")
    for rank, hit in enumerate(
        index.as_retriever(similarity_top_k=3, filters=english).retrieve(args.query), start=1
    ):
        print(f"{rank}. {hit.score:.4f} {hit.node.ref_doc_id} {hit.node.metadata['lang']}")
    vector_store.close()


if __name__ == "__main__":
    main()
