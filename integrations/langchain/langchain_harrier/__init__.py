"""LangChain integration of harrier: ``HarrierEmbeddings``, ``HarrierRetriever``,
``HarrierTextSplitter``, ``HarrierVectorStore`` and (with langchain-qdrant)
``HarrierSparseEmbeddings``.

Install with ``pip install 'harrier-suite[langchain]'``.
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
    import langchain_text_splitters  # noqa: F401
    import pydantic  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"langchain_harrier needs {exc.name or 'langchain-core'}, which is not installed; "
        "install the LangChain extra: pip install 'harrier-suite[langchain]'"
    ) from exc

from langchain_harrier._embeddings import HarrierEmbeddings
from langchain_harrier._retriever import HarrierRetriever
from langchain_harrier._text_splitter import HarrierTextSplitter
from langchain_harrier._vectorstore import HarrierVectorStore

__all__ = [
    "HarrierEmbeddings",
    "HarrierRetriever",
    "HarrierSparseEmbeddings",
    "HarrierTextSplitter",
    "HarrierVectorStore",
]


def __getattr__(name: str) -> object:
    """``HarrierSparseEmbeddings`` needs langchain-qdrant: imported on first use."""
    if name == "HarrierSparseEmbeddings":
        from langchain_harrier._sparse import HarrierSparseEmbeddings

        return HarrierSparseEmbeddings
    raise AttributeError(f"module 'langchain_harrier' has no attribute {name!r}")
