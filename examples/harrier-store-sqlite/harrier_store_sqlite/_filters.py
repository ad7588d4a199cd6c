"""harrier filters (docs/filters.md) as SQL over the JSON ``metadata`` column.

``json_type`` tells integers, reals, text, true and false apart, so a number equals a number
(``3`` equals ``3.0``), a bool only a bool, and a missing or null entry matches neither ``==``
nor ``!=``: the meaning every harrier store gives a filter.
"""

from __future__ import annotations

from harrier.stores import parse_filter
from harrier.stores.filters import OPERATORS, Condition, Scalar, check_supported, translate

SUPPORTED_OPERATORS = OPERATORS
Sql = tuple[str, list[object]]
_IS_NUMBER = "json_type(metadata, ?) IN ('integer', 'real')"
_IS_TEXT = "json_type(metadata, ?) = 'text'"
_VALUE = "json_extract(metadata, ?)"


def to_sql(flt: object) -> Sql:
    """A WHERE clause and its parameters (``"1"``: no filter)."""
    parsed = parse_filter(flt)
    if parsed is None:
        return "1", []
    check_supported(parsed, SUPPORTED_OPERATORS, "the SQLite store")
    return translate(parsed, _condition, _all, _any)


def _join(operator: str, parts: list[Sql]) -> Sql:
    sql = "(" + operator.join(part for part, _ in parts) + ")"
    return sql, [param for _, params in parts for param in params]


def _all(parts: list[Sql]) -> Sql:
    return _join(" AND ", parts)


def _any(parts: list[Sql]) -> Sql:
    return _join(" OR ", parts)


def _condition(condition: Condition) -> Sql:
    path = "$" + "".join(f'."{part}"' for part in condition.path)
    if condition.op in (">", ">=", "<", "<="):
        sql = f"({_IS_NUMBER} AND {_VALUE} {condition.op} ?)"
        return sql, [path, path, condition.value]
    if condition.op == "text_match":
        return f"({_IS_TEXT} AND instr({_VALUE}, ?) > 0)", [path, path, condition.value]
    equal = _any([_equal(path, value) for value in condition.values])
    if condition.op in ("==", "in"):
        return equal
    # "!=", "nin": present and not null (json_type is NULL for a missing entry), and not equal
    return f"(json_type(metadata, ?) != 'null' AND NOT {equal[0]})", [path, *equal[1]]


def _equal(path: str, value: Scalar) -> Sql:
    if isinstance(value, bool):
        return "json_type(metadata, ?) = ?", [path, "true" if value else "false"]
    if isinstance(value, str):
        return f"({_IS_TEXT} AND {_VALUE} = ?)", [path, path, value]
    return f"({_IS_NUMBER} AND {_VALUE} = ?)", [path, path, value]
