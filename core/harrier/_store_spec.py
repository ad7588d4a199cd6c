"""Open a store from a ``KIND[:PATH_OR_URL]`` string, as the command line takes it."""

from __future__ import annotations

import importlib
from typing import Any

from harrier._errors import ConfigurationError
from harrier._store import VectorStore

_CONNECTORS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "qdrant": ("harrier_qdrant", "QdrantStore", "qdrant", {}),
    "qdrant-local": ("harrier_qdrant", "QdrantStore", "qdrant", {"local_mode": True}),
    "milvus": ("harrier_milvus", "MilvusStore", "milvus", {}),
}


def open_store(
    spec: str, collection: str, *, quantization: str | None = None, sparse: bool | None = None
) -> VectorStore:
    """``qdrant`` / ``qdrant:./folder`` / ``qdrant:http://host:6333``; the same for ``milvus``.

    A bare kind opens the embedded default (``./.harrier/...``: Qdrant Edge for ``qdrant``,
    qdrant-client's local mode for ``qdrant-local``, Milvus Lite for ``milvus``); a value with
    ``://`` is a server address, anything else a local path. Credentials come from the
    environment. ``quantization`` (``scalar`` or ``binary``) is a Qdrant collection option;
    ``sparse``: None (BM25 vectors where the store has them), True (demanded: a store without
    BM25 refuses) or False (a collection this store creates gets no BM25 vectors).
    """
    kind, _, where = spec.partition(":")
    if kind not in _CONNECTORS:
        raise ConfigurationError(
            f"unknown store {kind!r}; use one of {', '.join(sorted(_CONNECTORS))}"
        )
    module_name, class_name, extra, options = _CONNECTORS[kind]
    if quantization is not None:
        if extra != "qdrant":
            raise ConfigurationError(f"--quantization is a Qdrant option; {kind} has none")
        options = {**options, "quantization": quantization}
    if sparse is not None:
        options = {**options, "sparse": sparse}
    if "://" in where and kind == "qdrant-local":
        raise ConfigurationError("qdrant-local takes a folder; a server is qdrant:URL")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {kind} store needs its extra: pip install 'harrier-suite[{extra}]' ({exc})"
        ) from None
    store_class: Any = getattr(module, class_name)
    if not where:
        return store_class(collection, **options)
    if "://" in where:
        return store_class(collection, url=where, **options)
    return store_class(collection, path=where, **options)
