"""The store kinds ``qdrant`` and ``qdrant-local`` (``harrier.stores`` entry points)."""

from __future__ import annotations

from harrier.stores import ConfigurationError, StoreRequest
from harrier_qdrant._edge_store import QdrantEdgeStore
from harrier_qdrant._store import QdrantClientStore


def open_qdrant(request: StoreRequest) -> QdrantEdgeStore | QdrantClientStore:
    """``qdrant[:PATH]``: the embedded Qdrant Edge store; ``qdrant:URL``: a Qdrant server."""
    if request.url is not None:
        return QdrantClientStore(
            request.collection,
            url=request.url,
            quantization=request.quantization,
            sparse=request.sparse is not False,  # Qdrant always has BM25
        )
    return QdrantEdgeStore(
        request.collection,
        path=request.path,
        quantization=request.quantization,
        sparse=request.sparse is not False,  # Qdrant always has BM25
    )


def open_qdrant_local(request: StoreRequest) -> QdrantClientStore:
    """``qdrant-local[:PATH]``: qdrant-client's local mode (what earlier versions wrote)."""
    if request.url is not None:
        raise ConfigurationError("qdrant-local takes a folder; a server is qdrant:URL")
    return QdrantClientStore(
        request.collection,
        path=request.path,
        quantization=request.quantization,
        sparse=request.sparse is not False,  # Qdrant always has BM25
    )
