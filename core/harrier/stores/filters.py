"""The one metadata filter description every harrier store translates (docs/filters.md).

A filter is a tree: :class:`Condition` leaves (``key op value``) joined by :class:`AllOf` (AND)
and :class:`AnyOf` (OR). It means the same on every store:

- ``key`` names a metadata entry; a dotted key ``"a.b"`` is the nested path
  ``metadata["a"]["b"]``.
- ``==`` / ``in`` compare a string with a string, a number with a number (``3`` equals ``3.0``)
  and a bool with a bool (``True`` never equals ``1``).
- ``!=`` / ``nin`` match a span whose entry is present (not null) and differs; a span without
  the entry matches neither ``==`` nor ``!=``.
- ``>``, ``>=``, ``<``, ``<=`` take a number and match numeric entries only.
- ``text_match`` takes a string and matches string entries that contain it (case-sensitive).

A dict ``{"lang": "en", "year": [2024, 2025]}`` is the short form of an :class:`AllOf` of
equalities (a list means any of); :func:`parse_filter` turns it into the tree. A store declares
the operators it can translate in ``supported_operators``; anything else is a
:class:`~harrier.ConfigurationError` naming the key or operator, before the store is asked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar, Union, get_args

from harrier._errors import ConfigurationError

Scalar = Union[str, int, float, bool]  # noqa: UP007 - a runtime alias on Python 3.10
Op = Literal["==", "!=", ">", ">=", "<", "<=", "in", "nin", "text_match"]
OPERATORS: frozenset[str] = frozenset(get_args(Op))
RANGE_OPERATORS = frozenset({">", ">=", "<", "<="})
LIST_OPERATORS = frozenset({"in", "nin"})
T = TypeVar("T")

_KEY_PART = re.compile(r"[^.\[\]\"\\]+")
"""One segment of a dotted key: anything but dots, brackets, quotes and backslashes."""


@dataclass(frozen=True)
class Condition:
    """``metadata[key] op value``; ``value`` is a tuple exactly for ``in`` / ``nin``."""

    key: str
    op: Op
    value: Scalar | tuple[Scalar, ...]

    def __post_init__(self) -> None:
        _check_key(self.key)
        if self.op not in OPERATORS:
            raise ConfigurationError(
                f"filter on {self.key!r}: unknown operator {self.op!r}; use one of "
                f"{', '.join(sorted(OPERATORS))}"
            )
        if self.op in LIST_OPERATORS:
            if isinstance(self.value, list):
                object.__setattr__(self, "value", tuple(self.value))
            if not isinstance(self.value, tuple) or not self.value:
                raise ConfigurationError(
                    f"filter on {self.key!r}: {self.op!r} takes a non-empty list of values, "
                    f"not {self.value!r}"
                )
            for item in self.value:
                _check_scalar(self.key, item)
            return
        _check_scalar(self.key, self.value)
        if self.op in RANGE_OPERATORS and not is_number(self.value):
            raise ConfigurationError(
                f"filter on {self.key!r}: {self.op!r} compares numbers, not {self.value!r}"
            )
        if self.op == "text_match" and (not isinstance(self.value, str) or not self.value):
            raise ConfigurationError(
                f"filter on {self.key!r}: 'text_match' takes a non-empty string, not {self.value!r}"
            )

    @property
    def path(self) -> tuple[str, ...]:
        """The nested path of ``key`` (``"a.b"`` -> ``("a", "b")``)."""
        return tuple(self.key.split("."))

    @property
    def values(self) -> tuple[Scalar, ...]:
        """The value(s) compared: the tuple of ``in`` / ``nin``, else a one-tuple."""
        return self.value if isinstance(self.value, tuple) else (self.value,)


@dataclass(frozen=True)
class AllOf:
    """Every one of ``conditions`` holds (AND)."""

    conditions: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", _check_children("AllOf", self.conditions))


@dataclass(frozen=True)
class AnyOf:
    """At least one of ``conditions`` holds (OR)."""

    conditions: tuple[Filter, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", _check_children("AnyOf", self.conditions))


Filter = Union[Condition, AllOf, AnyOf]  # noqa: UP007 - a runtime alias on Python 3.10


def parse_filter(obj: object) -> Filter | None:
    """``None`` -> None; a :data:`Filter` -> itself; a dict ``{key: value}`` -> an
    :class:`AllOf` of ``key == value`` (``key in value`` for a list or tuple). Anything else
    (nested dicts, None values, NaN, an empty key or list) is a ConfigurationError naming it."""
    if obj is None or isinstance(obj, (Condition, AllOf, AnyOf)):
        return obj
    if not isinstance(obj, dict):
        raise ConfigurationError(
            f"a filter is a dict of metadata values or a harrier.stores.Filter, not "
            f"{type(obj).__name__}; see docs/filters.md"
        )
    conditions: list[Filter] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"filter keys are strings, not {key!r}")
        if isinstance(value, dict):
            raise ConfigurationError(
                f"filter on {key!r}: a nested dict is not a value; name the nested entry "
                f"with a dotted key such as {key + '.' + next(iter(value), 'name')!r}"
            )
        if isinstance(value, (list, tuple)):
            conditions.append(Condition(key, "in", tuple(value)))
        else:
            conditions.append(Condition(key, "==", value))
    if not conditions:
        raise ConfigurationError("an empty filter dict matches nothing in particular; pass None")
    return AllOf(tuple(conditions))


def conditions(flt: Filter) -> Iterator[Condition]:
    """Every condition of ``flt``, depth first."""
    if isinstance(flt, Condition):
        yield flt
        return
    for child in flt.conditions:
        yield from conditions(child)


def check_supported(flt: Filter, supported: frozenset[str], store: str) -> None:
    """Raise ConfigurationError naming the operator and key ``store`` cannot translate."""
    for condition in conditions(flt):
        if condition.op not in supported:
            raise ConfigurationError(
                f"filter on {condition.key!r}: {store} cannot evaluate the operator "
                f"{condition.op!r}; it supports {', '.join(sorted(supported))}"
            )


def translate(
    flt: Filter,
    condition: Callable[[Condition], T],
    all_of: Callable[[list[T]], T],
    any_of: Callable[[list[T]], T],
) -> T:
    """Fold ``flt`` into a store's own filter, bottom up."""
    if isinstance(flt, Condition):
        return condition(flt)
    parts = [translate(child, condition, all_of, any_of) for child in flt.conditions]
    return all_of(parts) if isinstance(flt, AllOf) else any_of(parts)


def is_number(value: object) -> bool:
    """An int or float, never a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"a filter key is a non-empty string, not {key!r}")
    if not all(_KEY_PART.fullmatch(part) for part in key.split(".")):
        raise ConfigurationError(
            f"filter key {key!r} is not a metadata path: use names joined by single dots "
            "(a dot means a nested entry), without brackets, quotes or backslashes"
        )


def _check_scalar(key: str, value: object) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"filter on {key!r}: {value!r} is not a comparable number")
    if not isinstance(value, (str, int, float, bool)):
        raise ConfigurationError(
            f"filter on {key!r}: a value is a string, number or bool (a list means any of), "
            f"not {value!r}"
        )


def _check_children(kind: str, children: object) -> tuple[Filter, ...]:
    if isinstance(children, list):
        children = tuple(children)
    if not isinstance(children, tuple) or not children:
        raise ConfigurationError(f"{kind} takes a non-empty tuple of filters, not {children!r}")
    for child in children:
        if not isinstance(child, (Condition, AllOf, AnyOf)):
            raise ConfigurationError(f"{kind} holds Condition, AllOf or AnyOf, not {child!r}")
    return children
