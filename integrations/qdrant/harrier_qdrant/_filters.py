"""harrier filters (docs/filters.md) as Qdrant filters, for qdrant-client and Qdrant Edge.

Both speak the same filter model through different classes: :class:`FilterClasses` names the
constructors. Metadata lives under the payload key ``metadata``, so ``a.b`` is the payload path
``metadata.a.b``. Numbers compare by range (``3`` matches a stored ``3.0``; Qdrant's exact match
keeps integers and floats apart and never matches a float), ``!=`` and ``nin`` also require the
entry to be present (``is_empty`` excluded), as on every harrier store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harrier.stores.filters import (
    Condition,
    Filter,
    Scalar,
    check_supported,
    parse_filter,
    translate,
)

SUPPORTED_OPERATORS = frozenset({"==", "!=", ">", ">=", "<", "<=", "in", "nin", "text_match"})
_PLAIN_KEY = re.compile(r"[\w-]+")
_RANGE_ARGUMENT = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


@dataclass(frozen=True)
class FilterClasses:
    """How one Qdrant client spells each part of a filter."""

    filter: Callable[..., Any]  # (must=, should=, must_not=)
    match_value: Callable[[str, str | bool, tuple[str, ...]], Any]  # (key, value, metadata path)
    match_substring: Callable[[Any, str], Any]
    range: Callable[..., Any]  # (key, gt=, gte=, lt=, lte=) -> range condition
    is_empty: Callable[[str], Any]
    native: type
    store: str


def to_qdrant_filter(flt: object, classes: FilterClasses) -> Any:
    """``flt`` (a harrier filter, a dict, None, or a filter of this client, used as is)."""
    if flt is None or isinstance(flt, classes.native):
        return flt
    parsed = parse_filter(flt)
    if parsed is None:
        return None
    check_supported(parsed, SUPPORTED_OPERATORS, classes.store)
    return _tree(parsed, classes)


def _tree(flt: Filter, classes: FilterClasses) -> Any:
    top = translate(
        flt,
        lambda condition: _condition(condition, classes),
        lambda parts: classes.filter(must=parts),
        lambda parts: classes.filter(should=parts),
    )
    return top if isinstance(top, classes.native) else classes.filter(must=[top])


def payload_key(condition: Condition) -> str:
    """The payload path of a condition's key, segments quoted where Qdrant needs it."""
    return ".".join(
        ["metadata"] + [p if _PLAIN_KEY.fullmatch(p) else f'"{p}"' for p in condition.path]
    )


def _condition(condition: Condition, classes: FilterClasses) -> Any:
    key = payload_key(condition)
    if condition.op in _RANGE_ARGUMENT:
        return classes.range(key, **{_RANGE_ARGUMENT[condition.op]: float(condition.value)})  # type: ignore[arg-type]  # checked numeric
    if condition.op == "text_match":
        return classes.match_substring(key, str(condition.value))
    equal = [_equal(key, value, condition.path, classes) for value in condition.values]
    if condition.op in ("==", "in"):
        return equal[0] if len(equal) == 1 else classes.filter(should=equal)
    return classes.filter(must_not=[classes.is_empty(key), *equal])  # "!=", "nin"


def _equal(key: str, value: Scalar, path: tuple[str, ...], classes: FilterClasses) -> Any:
    if isinstance(value, (str, bool)):
        return classes.match_value(key, value, path)
    return classes.range(key, gte=float(value), lte=float(value))


def metadata_value(payload: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The metadata entry at ``path`` of a point's payload (None where there is none)."""
    value: Any = payload.get("metadata")
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value
