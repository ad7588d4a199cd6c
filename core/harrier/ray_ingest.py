"""Moved to :mod:`harrier.ingestion.ray`; this path re-exports it, with a
``DeprecationWarning``, for one release."""

from __future__ import annotations

from harrier._deprecation import warn_renamed
from harrier.ingestion.ray import actor_settings, ingest_on_ray, original_error

warn_renamed("harrier.ray_ingest", "harrier.ingestion.ray")

__all__ = ["actor_settings", "ingest_on_ray", "original_error"]
