"""The Qdrant payload layout: LangChain's ``page_content``/``metadata`` plus harrier's fields."""

from __future__ import annotations

from typing import Any

from harrier.stores import Hit, SpanRecord


def to_payload(record: SpanRecord) -> dict[str, Any]:
    """``langchain_qdrant.QdrantVectorStore`` reads ``page_content`` and ``metadata`` as is."""
    payload: dict[str, Any] = {"page_content": record.text, "metadata": record.metadata}
    payload.update(record.span_fields())
    return payload


def to_hit(point_id: Any, score: float, payload: dict[str, Any]) -> Hit:
    return Hit(
        text=payload["page_content"],
        score=float(score),
        doc_id=payload["doc_id"],
        span_index=payload["span_index"],
        start=payload["start"],
        end=payload["end"],
        metadata=payload.get("metadata") or {},
        id=str(point_id),
    )


def to_record(point_id: Any, vector: Any, payload: dict[str, Any]) -> SpanRecord:
    if isinstance(vector, dict):  # the unnamed dense vector beside the named BM25 one
        vector = vector[""]
    return SpanRecord.from_fields(
        str(point_id), vector, payload["page_content"], payload.get("metadata") or {}, payload
    )
