"""The Qdrant payload layout: LangChain's ``page_content``/``metadata`` plus harrier's fields."""

from __future__ import annotations

from typing import Any

import numpy as np

from harrier import Hit, SpanRecord

SPAN_FIELDS = ("doc_id", "span_index", "span_count", "start", "end", "token_count", "doc_hash",
               "model")


def to_payload(record: SpanRecord) -> dict[str, Any]:
    """``langchain_qdrant.QdrantVectorStore`` reads ``page_content`` and ``metadata`` as is."""
    payload: dict[str, Any] = {"page_content": record.text, "metadata": record.metadata}
    payload.update({name: getattr(record, name) for name in SPAN_FIELDS})
    return payload


def to_hit(point_id: Any, score: float, payload: dict[str, Any]) -> Hit:
    return Hit(
        text=payload["page_content"], score=float(score), doc_id=payload["doc_id"],
        span_index=payload["span_index"], start=payload["start"], end=payload["end"],
        metadata=payload.get("metadata") or {}, id=str(point_id),
    )


def to_record(point_id: Any, vector: Any, payload: dict[str, Any]) -> SpanRecord:
    if isinstance(vector, dict):  # the unnamed dense vector beside the named BM25 one
        vector = vector[""]
    return SpanRecord(
        id=str(point_id), vector=np.asarray(vector, dtype=np.float32), text=payload["page_content"],
        metadata=payload.get("metadata") or {}, **{name: payload[name] for name in SPAN_FIELDS},
    )
