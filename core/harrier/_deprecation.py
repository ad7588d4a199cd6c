"""Old spellings that shipped keep working, with a ``DeprecationWarning`` naming the new one."""

from __future__ import annotations

import warnings
from typing import TypeVar

from harrier._errors import ConfigurationError

T = TypeVar("T")


def renamed(
    old: str, old_value: T | None, new: str, new_value: T | None, *, stacklevel: int = 3
) -> T | None:
    """The value given under ``new``, or under the deprecated ``old`` (warning); not both."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ConfigurationError(f"pass {new} only ({old} is its deprecated spelling)")
    warn_renamed(old, new, stacklevel=stacklevel + 1)
    return old_value


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel)
