"""harrier_qdrant: Harrier ingestion and search on Qdrant (embedded Qdrant Edge, or a server)."""

from __future__ import annotations

from harrier_qdrant._edge_store import DEFAULT_PATH, QdrantEdgeStore
from harrier_qdrant._kinds import open_qdrant, open_qdrant_local
from harrier_qdrant._quantization import QUANTIZATIONS
from harrier_qdrant._store import LOCAL_PATH, QdrantClientStore, QdrantStore

__all__ = [
    "DEFAULT_PATH",
    "LOCAL_PATH",
    "QUANTIZATIONS",
    "QdrantClientStore",
    "QdrantEdgeStore",
    "QdrantStore",
    "open_qdrant",
    "open_qdrant_local",
]
