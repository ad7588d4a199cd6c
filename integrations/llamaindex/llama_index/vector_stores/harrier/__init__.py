"""LlamaIndex vector store over any harrier store: ``HarrierVectorStore``.

``llama_index`` and ``llama_index.vector_stores`` are PEP 420 namespaces shared with
``llama-index-core``, so neither level has an ``__init__.py``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "llama_index.vector_stores.harrier needs llama-index-core; install it with "
        "pip install 'harrier-suite[llamaindex]'"
    ) from exc

from llama_index.vector_stores.harrier._filters import to_harrier_filter
from llama_index.vector_stores.harrier._store import HarrierVectorStore

__all__ = ["HarrierVectorStore", "to_harrier_filter"]
