"""Retrieval with LangChain and Harrier: split texts, index them, search with a query.

    python examples/langchain_rag.py                       # microsoft/harrier-oss-v1-270m
    python examples/langchain_rag.py --model ./my-model --query "capital of Germany" -k 2

Texts are split into chunks of at most ``--max-tokens`` model tokens (exact slices of the text,
with their start offsets), embedded as documents (no instruction), and stored in LangChain's
``InMemoryVectorStore``; the query is embedded with the model's retrieval instruction.
"""

from __future__ import annotations

import argparse

from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

import harrier
from langchain_harrier import HarrierEmbeddings, HarrierTextSplitter

TEXTS = {
    "paris.txt": "Paris is the capital and most populous city of France. It hosts the Louvre, "
    "the most visited art museum in the world.\n\nThe Seine flows through the city.",
    "berlin.txt": "Berlin is the capital of Germany. Its Museum Island holds five museums.\n\n"
    "The Spree and the Havel flow through the city.",
    "tokyo.txt": "東京は日本の首都です。Tokyo is the capital of Japan and one of the largest "
    "cities in the world.",
    "embeddings.txt": "Retrieval augmented generation finds passages with embeddings. "
    "Harrier puts a task instruction before queries and never before documents.",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=harrier.DEFAULT_MODEL,
        help="Hugging Face model id or local folder (default: %(default)s)",
    )
    parser.add_argument("--query", default="Which city is the capital of France?")
    parser.add_argument("-k", type=int, default=3, help="how many chunks to retrieve")
    parser.add_argument("--max-tokens", type=int, default=32, help="largest chunk, in tokens")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: automatic)")
    args = parser.parse_args(argv)

    embeddings = HarrierEmbeddings(model=args.model, device=args.device)
    splitter = HarrierTextSplitter(embeddings, max_tokens=args.max_tokens, add_start_index=True)
    documents = [Document(text, metadata={"source": name}) for name, text in TEXTS.items()]
    chunks = splitter.split_documents(documents)
    print(f"split {len(documents)} texts into {len(chunks)} chunks")

    store = InMemoryVectorStore(embedding=embeddings)
    store.add_documents(chunks)
    print(f"query: {args.query!r}")
    for rank, (doc, score) in enumerate(
        store.similarity_search_with_score(args.query, k=args.k), start=1
    ):
        where = f"{doc.metadata['source']}@{doc.metadata['start_index']}"
        print(f"{rank}. {score:.4f} {where} {doc.page_content!r}")


if __name__ == "__main__":
    main()
