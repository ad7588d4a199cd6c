"""Milvus boolean expressions built from values, quoted for a real server and for Milvus Lite."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harrier.stores import ConfigurationError
from harrier.stores.filters import Condition, check_supported, parse_filter, translate

ALL_ROWS = 'id != ""'
SUPPORTED_OPERATORS = frozenset({"==", "!=", ">", ">=", "<", "<=", "in", "nin", "text_match"})
_LIKE_SPECIAL = "%_\\"


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


def metadata_filter(flt: object) -> str:
    """A harrier filter (or dict) as an expression over the ``metadata`` JSON field; a string is
    a Milvus expression used as is (store-specific); None is no filter ("")."""
    if flt is None:
        return ""
    if isinstance(flt, str):
        return flt
    parsed = parse_filter(flt)
    if parsed is None:
        return ""
    check_supported(parsed, SUPPORTED_OPERATORS, "Milvus")
    return translate(
        parsed,
        _condition,
        lambda parts: _join(" and ", parts),
        lambda parts: _join(" or ", parts),
    )


def _join(operator: str, parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + operator.join(parts) + ")"


def _condition(condition: Condition) -> str:
    path = "metadata" + "".join(f"[{quote(part)}]" for part in condition.path)
    if condition.op == "text_match":
        text = str(condition.value)
        if any(c in text for c in _LIKE_SPECIAL):
            raise ConfigurationError(
                f"filter on {condition.key!r}: Milvus cannot match {text!r} with 'text_match': "
                "its LIKE patterns cannot escape %, _ or a backslash"
            )
        return f"{path} like {quote('%' + text + '%')}"
    if condition.op in ("in", "nin"):
        op, join = ("==", " or ") if condition.op == "in" else ("!=", " and ")
        return _join(join, [f"{path} {op} {literal(v)}" for v in condition.values])
    return f"{path} {condition.op} {literal(condition.value)}"
