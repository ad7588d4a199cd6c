"""harrier_milvus: Harrier ingestion and search on Milvus (embedded Milvus Lite or a server).

Spans of any length and metadata of any size are stored losslessly under a real server's
65,535-byte VARCHAR and 65,536-byte JSON limits; docs/milvus.md shows how to read them back.
"""

from __future__ import annotations

from harrier_milvus._connection import DEFAULT_PATH
from harrier_milvus._kinds import open_milvus
from harrier_milvus._layout import LAYOUT_VERSION
from harrier_milvus._payload import read_metadata, read_text, split_utf8
from harrier_milvus._store import MilvusStore

__all__ = [
    "DEFAULT_PATH",
    "LAYOUT_VERSION",
    "MilvusStore",
    "open_milvus",
    "read_metadata",
    "read_text",
    "split_utf8",
]
