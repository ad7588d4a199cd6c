"""LlamaIndex integration of Harrier: ``HarrierEmbedding`` and ``HarrierNodeParser``.

``llama_index`` and ``llama_index.embeddings`` are PEP 420 namespaces shared with
``llama-index-core``, so neither level has an ``__init__.py``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a test by hiding the package
    raise ImportError(
        "llama_index.embeddings.harrier needs llama-index-core; install it with "
        "pip install 'harrier-suite[llamaindex]'"
    ) from exc

from llama_index.embeddings.harrier._embedding import HarrierEmbedding
from llama_index.embeddings.harrier._node_parser import HarrierNodeParser
from llama_index.embeddings.harrier._retriever import HarrierRetriever

__all__ = ["HarrierEmbedding", "HarrierNodeParser", "HarrierRetriever"]
