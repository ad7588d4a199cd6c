"""LlamaIndex ``MetadataFilters`` as the one harrier filter description."""

from __future__ import annotations

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from harrier import ConfigurationError
from harrier.stores import AllOf, AnyOf, Condition, Filter

_OPERATORS = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.TEXT_MATCH: "text_match",
}


def to_harrier_filter(filters: MetadataFilters | None) -> Filter | None:
    """``filters`` as a harrier filter (None for no filter); an operator or condition harrier
    has no translation for raises ``ConfigurationError`` naming it. Whether a store can run
    each operator is the store's check (its ``supported_operators``)."""
    if filters is None or not filters.filters:
        return None
    parts = tuple(
        _condition(f) if isinstance(f, MetadataFilter) else to_harrier_filter(f)
        for f in filters.filters
    )
    kept = tuple(part for part in parts if part is not None)
    if filters.condition in (None, FilterCondition.AND):
        return AllOf(kept)
    if filters.condition == FilterCondition.OR:
        return AnyOf(kept)
    raise ConfigurationError(
        f"filter condition {filters.condition.value!r} has no harrier translation; use "
        "'and' or 'or' (negate the operators instead: != and nin)"
    )


def _condition(flt: MetadataFilter) -> Condition:
    op = _OPERATORS.get(FilterOperator(flt.operator))
    if op is None:
        raise ConfigurationError(
            f"filter operator {flt.operator.value!r} on {flt.key!r} has no harrier translation; "
            f"use one of {', '.join(sorted(_OPERATORS.values()))}"
        )
    if op not in ("in", "nin"):
        return Condition(flt.key, op, flt.value)  # type: ignore[arg-type]  # Condition checks
    if not isinstance(flt.value, (list, tuple)):
        raise ConfigurationError(f"filter {op!r} on {flt.key!r} takes a list of values")
    return Condition(flt.key, op, tuple(flt.value))  # type: ignore[arg-type]
