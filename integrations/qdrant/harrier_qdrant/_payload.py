"""The Qdrant payload layout: LangChain's ``page_content``/``metadata`` plus harrier's fields.

A collection may also hold points that another writer added (``langchain_qdrant``'s
``add_texts``: ``page_content`` and ``metadata`` only). A search returns them as hits with
their text and metadata and no span fields; reads of whole records skip them (they cannot be
copied as harrier spans), logged at DEBUG.
"""

from __future__ import annotations

import logging
from typing import Any

from harrier.stores import SPAN_FIELDS, Hit, SpanRecord

logger = logging.getLogger("harrier")


def to_payload(record: SpanRecord) -> dict[str, Any]:
    """``langchain_qdrant.QdrantVectorStore`` reads ``page_content`` and ``metadata`` as is."""
    payload: dict[str, Any] = {"page_content": record.text, "metadata": record.metadata}
    payload.update(record.span_fields())
    return payload


def to_hit(point_id: Any, score: float, payload: dict[str, Any]) -> Hit:
    """A hit from a point; one without harrier's span fields keeps its text and metadata."""
    metadata = payload.get("metadata")
    return Hit(
        text=_text(payload),
        score=float(score),
        doc_id=payload.get("doc_id"),
        span_index=payload.get("span_index"),
        start=payload.get("start"),
        end=payload.get("end"),
        metadata=metadata if isinstance(metadata, dict) else {},
        id=str(point_id),
    )


def is_span(payload: dict[str, Any], fields: Any = SPAN_FIELDS) -> bool:
    """Whether ``payload`` holds ``fields`` (harrier's span fields); logs the points it does
    not, which another writer added."""
    missing = [name for name in fields if name not in payload]
    if missing:
        logger.debug("skipping a point that is not a harrier span (no %s)", ", ".join(missing))
    return not missing


def to_record(point_id: Any, vector: Any, payload: dict[str, Any]) -> SpanRecord | None:
    """The span record of a point; None for a point without harrier's span fields."""
    if not is_span(payload):
        return None
    if isinstance(vector, dict):  # the unnamed dense vector beside the named BM25 one
        vector = vector[""]
    metadata = payload.get("metadata")
    return SpanRecord.from_fields(
        str(point_id),
        vector,
        _text(payload),
        metadata if isinstance(metadata, dict) else {},
        payload,
    )


def _text(payload: dict[str, Any]) -> str:
    text = payload.get("page_content")
    return text if isinstance(text, str) else ""
