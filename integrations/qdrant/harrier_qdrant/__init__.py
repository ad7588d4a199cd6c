"""harrier_qdrant: Harrier ingestion and search on Qdrant (embedded local mode or a server)."""

from __future__ import annotations

from harrier_qdrant._store import DEFAULT_PATH, QdrantStore

__all__ = ["DEFAULT_PATH", "QdrantStore"]
