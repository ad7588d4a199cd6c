"""Whether a record can be stored as it is, checked where records enter the pipeline.

Every store keeps text and ids as UTF-8 and metadata as JSON, so a record is refused (skipped
with the reason, never stored altered) when its text or id holds a lone surrogate (not valid
Unicode), or its metadata is not strict JSON: NaN and Infinity have no JSON form (Qdrant Edge
refuses them, qdrant-client and Milvus would store them), and a value JSON cannot hold
(bytes, a set...) has none either.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def storage_problem(doc_id: str, text: str | None, metadata: Any) -> str | None:
    """Why a record with this id, text (None when not loaded yet) and metadata cannot be
    stored as it is, or None when it can."""
    if not isinstance(doc_id, str):
        return f"id must be a string, not {type(doc_id).__name__}"
    if (position := surrogate_at(doc_id)) is not None:
        return f"id is not valid Unicode: a lone surrogate at character {position}"
    if text is not None and (position := surrogate_at(text)) is not None:
        return f"text is not valid Unicode: a lone surrogate at character {position}"
    return metadata_problem(metadata)


def metadata_problem(metadata: Any) -> str | None:
    """Why ``metadata`` cannot be stored as strict JSON, or None when it can."""
    if not isinstance(metadata, dict):
        return f"metadata must be an object, not {type(metadata).__name__}"
    try:
        encoded = json.dumps(metadata, allow_nan=False, ensure_ascii=False, sort_keys=True)
    except ValueError as exc:
        if "Out of range float" in str(exc):
            return "metadata holds NaN or Infinity, which JSON cannot hold: store it as a string"
        return f"metadata is not JSON-able: {exc}"
    except (TypeError, RecursionError) as exc:
        return f"metadata is not JSON-able: {exc}"
    if surrogate_at(encoded) is not None:
        return "metadata is not valid Unicode: a lone surrogate in a key or value"
    return None


def printable(doc_id: str) -> str:
    """``doc_id`` safe to log and write as UTF-8: lone surrogates as ``\\udcff`` escapes."""
    return doc_id.encode("utf-8", "backslashreplace").decode("utf-8")


def replace_surrogates(text: str) -> tuple[str, int]:
    """``text`` with each lone surrogate replaced by U+FFFD (one character for one, so offsets
    hold), and how many there were. For text a converter made, never for a user's own."""
    return _SURROGATE.subn("\ufffd", text)


def surrogate_at(text: str) -> int | None:
    """Where ``text`` holds its first lone surrogate (not valid Unicode), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None
