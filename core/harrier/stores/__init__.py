"""harrier.stores: what a vector store connector builds on (see docs/writing-a-store.md)."""

from __future__ import annotations

from harrier.stores.filters import AllOf, AnyOf, Condition, Filter, parse_filter

__all__ = ["AllOf", "AnyOf", "Condition", "Filter", "parse_filter"]
