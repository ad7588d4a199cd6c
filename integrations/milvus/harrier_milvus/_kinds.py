"""The store kind ``milvus`` (an entry point in the ``harrier.stores`` group)."""

from __future__ import annotations

from harrier.stores import StoreRequest
from harrier_milvus._store import MilvusStore


def open_milvus(request: StoreRequest) -> MilvusStore:
    """``milvus[:PATH]``: Milvus Lite (default ``./.harrier/milvus.db``); ``milvus:URI``: a
    Milvus server (token from ``MILVUS_TOKEN``)."""
    request.refuse_quantization()
    if request.url is not None:
        return MilvusStore(request.collection, url=request.url, sparse=request.sparse)
    return MilvusStore(request.collection, path=request.path, sparse=request.sparse)
