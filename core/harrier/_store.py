"""Moved to :mod:`harrier.stores` (``base`` and ``fusion``); this module re-exports them."""

from __future__ import annotations

from harrier.stores.base import StoredDocument, VectorStore, retry
from harrier.stores.fusion import RRF_K, arm_limit, fuse_ranks

__all__ = ["RRF_K", "StoredDocument", "VectorStore", "arm_limit", "fuse_ranks", "retry"]
