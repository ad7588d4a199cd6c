"""harrier_store_sqlite: a harrier vector store in one SQLite file (the example third-party store).

Registered through the ``harrier.stores`` entry point as ``sqlite``, so
``harrier ingest ... --store sqlite:PATH`` opens it with no change to harrier.
"""

from __future__ import annotations

from harrier.stores import ConfigurationError, StoreRequest
from harrier_store_sqlite._store import DEFAULT_PATH, SqliteStore

__all__ = ["DEFAULT_PATH", "SqliteStore", "open_sqlite"]


def open_sqlite(request: StoreRequest) -> SqliteStore:
    """``sqlite[:PATH]`` (default ``./.harrier/sqlite.db``); no servers, no quantization."""
    request.refuse_quantization()
    if request.url is not None:
        raise ConfigurationError("the sqlite store is a file: --store sqlite:PATH")
    return SqliteStore(request.collection, path=request.path)
