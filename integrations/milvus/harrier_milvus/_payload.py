"""Rows of a harrier Milvus collection: text and metadata of any size, losslessly.

A real Milvus server holds at most 65,535 UTF-8 bytes in a VARCHAR (also per element of an
ARRAY of VARCHAR) and 65,536 bytes in a JSON field; Milvus Lite enforces neither. So:

- ``text_parts`` (ARRAY of VARCHAR): the span's exact text cut into consecutive parts of at most
  65,535 UTF-8 bytes, cut between characters, never inside one. ``"".join(text_parts)`` is the
  text, byte for byte. Up to 4,096 parts (268 MB), far more than one request can carry.
- ``metadata_json`` (ARRAY of VARCHAR): the metadata as canonical JSON (sorted keys, no spaces,
  non-ASCII unescaped), cut the same way. ``json.loads("".join(metadata_json))`` is the
  metadata: the source of truth.
- ``metadata`` (JSON): a copy for filtering (``metadata["lang"] == "en"``) holding the top-level
  entries that the JSON field stores exactly (no NaN or infinity, integers within 64 bits),
  smallest first while the copy stays under the JSON limit. Never read metadata from it.

``read_text`` and ``read_metadata`` reassemble a row returned by ``query`` or ``search``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from harrier.stores import (
    SPAN_FIELDS,
    Hit,
    SpanRecord,
    StoreLimitError,
    canonical_json,
    size_bounded,
)

logger = logging.getLogger("harrier")

MAX_PART_BYTES = 65_535
"""A real server's VARCHAR limit, in UTF-8 bytes: the largest part of text or metadata."""
MAX_PARTS = 4_096
"""The server's largest ARRAY capacity."""
FILTER_COPY_BYTES = 60_000
"""Budget of the ``metadata`` filter copy, with a margin under the 65,536-byte JSON limit."""
REQUEST_BYTES = 16 * 2**20
"""Rows per upsert request are grouped under this size (the RPC limit is 64 MB)."""
MAX_ROW_BYTES = 32 * 2**20
"""The largest single row written; a bigger span needs a smaller ``max_tokens``."""

HIT_FIELDS = ["doc_id", "span_index", "start", "end", "text_parts", "metadata_json"]
RECORD_FIELDS = ["id", "vector", *SPAN_FIELDS, "text_parts", "metadata_json"]
_INT64 = (-(2**63), 2**63 - 1)


def split_utf8(text: str, limit: int = MAX_PART_BYTES) -> list[str]:
    """``text`` as consecutive parts of at most ``limit`` UTF-8 bytes, cut between characters.

    Encodes strictly: a lone surrogate raises ``UnicodeEncodeError`` (Milvus stores UTF-8 only).
    """
    if limit < 4:
        raise ValueError("limit must hold at least one character (4 bytes)")
    data = text.encode("utf-8")
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts


def read_text(row: dict[str, Any]) -> str:
    """The exact text of a row from ``query``/``search`` (``search`` nests it in ``entity``)."""
    return "".join(_fields(row).get("text_parts") or [])


def read_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """The exact metadata of a row from ``query``/``search`` (empty for a row without it)."""
    parts = _fields(row).get("metadata_json")
    if not parts:
        return {}
    value: dict[str, Any] = json.loads("".join(parts))
    return value


def filter_copy(metadata: dict[str, Any], budget: int = FILTER_COPY_BYTES) -> dict[str, Any]:
    """The top-level entries the JSON field stores exactly, smallest first, within ``budget``."""
    sizes: dict[str, int] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or value is None or not _exact_in_json_field(value):
            continue
        try:
            entry = json.dumps(
                {key: value}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode("utf-8")
        except (TypeError, ValueError):  # NaN, infinity, a lone surrogate
            continue
        sizes[key] = len(entry) - 1  # '"key":value' plus one comma or brace
    kept: set[str] = set()
    total = 1
    for key in sorted(sizes, key=sizes.__getitem__):
        if total + sizes[key] > budget:
            break
        kept.add(key)
        total += sizes[key]
    return {key: _without_nulls(value) for key, value in metadata.items() if key in kept}


def _without_nulls(value: Any) -> Any:
    """Null entries left out of objects: a filter treats null as absent on every store, and a
    Milvus server's ``exists`` would count it as present."""
    if isinstance(value, dict):
        return {key: _without_nulls(v) for key, v in value.items() if v is not None}
    return value


def to_row(record: SpanRecord, bm25_text: str | None = None) -> dict[str, Any]:
    """The Milvus row of a span record (see the module docstring), with the BM25 text of a
    collection that has BM25 vectors."""
    try:
        text_parts = split_utf8(record.text)
        metadata_parts = split_utf8(canonical_json(record.metadata))
    except UnicodeEncodeError:
        raise StoreLimitError(
            f"span {record.span_index} of document {record.doc_id!r} holds a lone surrogate "
            "character, which Milvus (UTF-8 only) cannot store; fix the source text"
        ) from None
    row = record.span_fields()
    row.update(
        id=record.id,
        vector=np.asarray(record.vector, dtype=np.float32).tolist(),
        text_parts=text_parts,
        metadata=filter_copy(record.metadata),
        metadata_json=metadata_parts,
    )
    if bm25_text is not None:
        row["bm25_text"] = bm25_text
    size = row_bytes(row)
    if len(text_parts) > MAX_PARTS or size > MAX_ROW_BYTES:
        raise StoreLimitError(
            f"span {record.span_index} of document {record.doc_id!r} needs {size:,} bytes, more "
            f"than the {MAX_ROW_BYTES:,} one Milvus request may carry here; ingest it with a "
            "smaller max_tokens"
        )
    return row


def row_bytes(row: dict[str, Any]) -> int:
    """A close upper estimate of a row's size in a request."""
    strings = [
        *row["text_parts"],
        *row["metadata_json"],
        row["doc_id"],
        row["model"],
        row.get("bm25_text", ""),
    ]
    return (
        sum(len(s.encode("utf-8")) + 8 for s in strings)
        + 4 * len(row["vector"])
        + len(json.dumps(row["metadata"], ensure_ascii=False).encode("utf-8"))
        + 256
    )


def request_chunks(
    rows: Sequence[dict[str, Any]], budget: int = REQUEST_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive groups of rows under ``budget`` bytes (a larger row goes alone)."""
    return size_bounded(rows, row_bytes, budget)


def to_hit(hit: dict[str, Any]) -> Hit:
    """A ``harrier.Hit`` from one result of ``MilvusClient.search`` (COSINE: similarity).
    The span fields are None in a row without them (another writer's)."""
    fields = _fields(hit)
    return Hit(
        text=read_text(fields),
        score=float(hit["distance"]),
        doc_id=fields.get("doc_id"),
        span_index=_int(fields.get("span_index")),
        start=_int(fields.get("start")),
        end=_int(fields.get("end")),
        metadata=read_metadata(fields),
        id=str(hit["id"]),
    )


def to_record(row: dict[str, Any]) -> SpanRecord | None:
    """A ``harrier.SpanRecord`` from one row of ``MilvusClient.query`` (with the vector); None
    for a row without harrier's span fields (logged at DEBUG), which cannot be one."""
    missing = [name for name in SPAN_FIELDS if row.get(name) is None]
    if missing:
        logger.debug("skipping row %s: not a harrier span (no %s)", row.get("id"), missing)
        return None
    return SpanRecord.from_fields(
        str(row["id"]), row["vector"], read_text(row), read_metadata(row), row
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    entity = row.get("entity")
    return entity if isinstance(entity, dict) else row


def _exact_in_json_field(value: Any) -> bool:
    """False where the JSON field would refuse or change the value (huge integers)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, (list, tuple)):
        return all(_exact_in_json_field(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _exact_in_json_field(v) for k, v in value.items())
    return False
