"""Milvus boolean expressions built from values, quoted for a real server and for Milvus Lite."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pymilvus import MilvusClient

from harrier.stores import ConfigurationError
from harrier.stores.filters import Condition, check_supported, parse_filter, translate
from harrier_milvus._connection import quiet

ALL_ROWS = 'id != ""'
SUPPORTED_OPERATORS = frozenset({"==", "!=", ">", ">=", "<", "<=", "in", "nin", "text_match"})
_LIKE_SPECIAL = "%_\\"
INFIX_LIKE = (2, 4)
"""The first Milvus server release whose LIKE matches inside a string."""
_VERSION = re.compile(r"(\d+)\.(\d+)")


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


def operators_for(client: MilvusClient) -> frozenset[str]:
    """The filter operators the Milvus behind ``client`` evaluates: every one, except
    ``text_match`` on servers before 2.4 (their LIKE matches prefixes only)."""
    with quiet():
        try:
            version = str(client.get_server_version())
        except Exception:  # the first real call reports an unreachable server
            return SUPPORTED_OPERATORS
    match = _VERSION.search(version)
    if match and (int(match.group(1)), int(match.group(2))) < INFIX_LIKE:
        return SUPPORTED_OPERATORS - {"text_match"}
    return SUPPORTED_OPERATORS


def metadata_filter(flt: object, supported: frozenset[str] = SUPPORTED_OPERATORS) -> str:
    """A harrier filter (or dict) as an expression over the ``metadata`` JSON field; a string is
    a Milvus expression used as is (store-specific); None is no filter ("")."""
    if flt is None:
        return ""
    if isinstance(flt, str):
        return flt
    parsed = parse_filter(flt)
    if parsed is None:
        return ""
    store = "Milvus" if "text_match" in supported else "a Milvus server before 2.4"
    check_supported(parsed, supported, store)
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
    if condition.op in ("==", "in"):
        return _join(" or ", [f"{path} == {literal(v)}" for v in condition.values])
    if condition.op in ("!=", "nin"):  # a server's != also matches a missing entry
        differs = [f"{path} != {literal(v)}" for v in condition.values]
        return _join(" and ", [f"(exists {path})", *differs])
    return f"{path} {condition.op} {literal(condition.value)}"
