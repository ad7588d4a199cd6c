"""Moved to :mod:`harrier.stores.registry`; this module re-exports ``open_store``."""

from __future__ import annotations

from harrier.stores.registry import open_store

__all__ = ["open_store"]
