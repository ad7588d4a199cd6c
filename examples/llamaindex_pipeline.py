"""Ingest documents with Harrier through a LlamaIndex IngestionPipeline, then retrieve.

    python examples/llamaindex_pipeline.py --query "what is the capital of France?"
    python examples/llamaindex_pipeline.py --model ./my-harrier-folder notes/*.txt

Documents are split into spans that fit the model (``HarrierNodeParser``), embedded as plain
text (``HarrierEmbedding``), and stored in an in-memory ``VectorStoreIndex``; the query gets the
model's retrieval instruction. No LLM is involved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llama_index.core import VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import Document

from harrier import DEFAULT_MODEL
from llama_index.embeddings.harrier import HarrierEmbedding, HarrierNodeParser

SAMPLES = {
    "paris": "Paris is the capital and most populous city of France. It lies on the Seine.\n\n"
    "The city hosted the Summer Olympic Games in 1900, 1924 and 2024.",
    "photosynthesis": "Photosynthesis turns light, water and carbon dioxide into sugar and "
    "oxygen. It takes place in the chloroplasts of plant cells.",
    "python": "Python is a programming language that emphasises readability. Its standard "
    "library is often described as batteries included.",
    "tokyo": "東京は日本の首都です。人口は約1400万人で、世界最大級の都市圏を形成しています。",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="text files to ingest (built-in samples when none are given)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"Hugging Face id or local folder (default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--query", default="What is the capital of France?")
    parser.add_argument(
        "--query-instruction",
        default=None,
        help="one-sentence retrieval task (default: the model's own prompt)",
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=256,
        help="most tokens per node, metadata included (default: 256)",
    )
    parser.add_argument("--overlap-tokens", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--device", default=None, help="e.g. cpu or cuda (default: auto)")
    return parser.parse_args(argv)


def load_documents(files: list[Path]) -> list[Document]:
    if not files:
        return [
            Document(text=text, doc_id=name, metadata={"title": name})
            for name, text in SAMPLES.items()
        ]
    return [
        Document(
            text=path.read_text(encoding="utf-8"), doc_id=str(path), metadata={"title": path.stem}
        )
        for path in files
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    embedding = HarrierEmbedding(
        model_name=args.model, device=args.device, query_instruction=args.query_instruction
    )
    splitter = HarrierNodeParser(
        embedding, max_tokens=args.chunk_tokens, overlap_tokens=args.overlap_tokens
    )
    documents = load_documents(args.files)
    nodes = IngestionPipeline(transformations=[splitter, embedding]).run(documents=documents)
    print(
        f"ingested {len(nodes)} nodes from {len(documents)} documents "
        f"(dimension {embedding.embedder.dimension})"
    )

    index = VectorStoreIndex(nodes, embed_model=embedding)
    print(f"query: {args.query!r}")
    for rank, hit in enumerate(
        index.as_retriever(similarity_top_k=args.top_k).retrieve(args.query), start=1
    ):
        node = hit.node
        where = f"{node.ref_doc_id}[{node.start_char_idx}:{node.end_char_idx}]"
        preview = node.get_content().replace("\n", " ")[:70]
        print(f"{rank}. score={hit.score:.4f} {where} {preview}")


if __name__ == "__main__":
    main()
