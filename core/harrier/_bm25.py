"""Moved to :mod:`harrier.stores.bm25`; this module re-exports it (also the two private
patterns tests read)."""

from __future__ import annotations

from harrier.stores.bm25 import (
    _CJK,
    _MARKS,
    MAX_TERM_CHARS,
    PREPARATION,
    SPARSE_VECTOR_NAME,
    Bm25Encoder,
    Bm25Settings,
    document_terms,
    normalize,
    query_terms,
)

__all__ = [
    "MAX_TERM_CHARS",
    "PREPARATION",
    "SPARSE_VECTOR_NAME",
    "_CJK",
    "_MARKS",
    "Bm25Encoder",
    "Bm25Settings",
    "document_terms",
    "normalize",
    "query_terms",
]
