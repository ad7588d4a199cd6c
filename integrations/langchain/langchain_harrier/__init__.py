"""LangChain integration of harrier: ``HarrierEmbeddings`` and ``HarrierTextSplitter``.

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

__all__ = ["HarrierEmbeddings", "HarrierRetriever", "HarrierTextSplitter"]
