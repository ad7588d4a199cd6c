"""Milvus boolean expressions built from values, quoted for a real server and for Milvus Lite."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

ALL_ROWS = 'id != ""'


def quote(value: str) -> str:
    """A double-quoted string literal that both parsers read back as ``value``.

    Only the backslash, the quote, CR and LF are escaped: Milvus Lite reads no ``\\u`` escapes,
    and both read other characters (control characters included) as they are.
    """
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def literal(value: Any) -> str:
    """A string, boolean, integer or finite float as an expression literal."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    raise TypeError(
        f"a metadata filter value must be a string, boolean or number, not {value!r}; pass a "
        "Milvus expression string for anything else"
    )


def doc_filter(doc_ids: Sequence[str]) -> str:
    return f"doc_id in [{', '.join(quote(doc_id) for doc_id in doc_ids)}]"


def id_filter(ids: Sequence[str]) -> str:
    return f"id in [{', '.join(quote(i) for i in ids)}]"


def stale_filter(doc_id: str, keep_hash: str) -> str:
    return f"doc_id == {quote(doc_id)} and doc_hash != {quote(keep_hash)}"


def metadata_filter(flt: Any) -> str:
    """A dict means equality on metadata keys; a string is a Milvus expression used as is."""
    if flt is None:
        return ""
    if isinstance(flt, str):
        return flt
    if isinstance(flt, dict):
        for key in flt:
            if not isinstance(key, str) or not key:
                raise ValueError(f"metadata filter keys must be non-empty strings, not {key!r}")
        return " and ".join(f"metadata[{quote(k)}] == {literal(v)}" for k, v in flt.items())
    raise TypeError(
        "filter must be a dict of metadata values or a Milvus expression string such as "
        '\'metadata["lang"] == "en" and span_index < 3\''
    )
