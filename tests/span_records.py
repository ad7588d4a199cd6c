"""Span records built by hand for store tests (no model needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harrier import SpanRecord, span_id


def span_record(
    doc_id: str, text: str, vector: np.ndarray, *, index: int = 0, count: int = 1, **fields: Any
) -> SpanRecord:
    """Span ``index`` of ``count`` of ``doc_id``, the whole of ``text`` with one token, hash
    ``"h"`` and model ``"m"``, unless ``fields`` say otherwise."""
    values = {"start": 0, "end": len(text), "token_count": 1, "doc_hash": "h", "model": "m"}
    return SpanRecord(
        id=span_id(doc_id, index),
        vector=vector,
        text=text,
        doc_id=doc_id,
        span_index=index,
        span_count=count,
        **{**values, **fields},
    )
