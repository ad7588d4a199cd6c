"""Store kinds by name: ``--store KIND[:PATH_OR_URL]`` opens the store a package declares.

A package makes a store kind available by declaring an entry point in the group
``harrier.stores`` whose object is an opener, ``open(request: StoreRequest) -> VectorStore``::

    [project.entry-points."harrier.stores"]
    sqlite = "harrier_store_sqlite:open_store"

harrier's own stores (``qdrant``, ``qdrant-local``, ``milvus``) are declared the same way in its
pyproject. Listing the kinds reads the installed packages' metadata only; a store's module is
imported when that store is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from harrier._errors import ConfigurationError
from harrier.stores.base import VectorStore

ENTRY_POINT_GROUP = "harrier.stores"


@dataclass(frozen=True)
class StoreRequest:
    """What the command line (or :func:`open_store`) asks of a store kind's opener.

    ``location`` is what follows ``KIND:`` (empty for the kind's default place): a value with
    ``://`` is a server address (:attr:`url`), anything else a local path (:attr:`path`).
    ``quantization`` is None unless asked; a store without that option refuses it
    (:meth:`refuse_quantization`). ``sparse``: None, BM25 vectors where the store has them;
    True demands them; False, a collection the store creates gets none.
    """

    kind: str
    collection: str
    location: str = ""
    sparse: bool | None = None
    quantization: str | None = None

    @property
    def url(self) -> str | None:
        return self.location if "://" in self.location else None

    @property
    def path(self) -> str | None:
        return self.location if self.location and "://" not in self.location else None

    def refuse_quantization(self) -> None:
        """For an opener whose store has no quantization option."""
        if self.quantization is not None:
            raise ConfigurationError(
                f"--quantization is a Qdrant option; the {self.kind} store has none"
            )


Opener = Callable[[StoreRequest], VectorStore]
_REGISTERED: dict[str, Opener] = {}


def register_store(kind: str, opener: Opener) -> None:
    """Make ``kind`` open with ``opener`` in this process (an entry point does it for an
    installed package)."""
    if not kind or ":" in kind:
        raise ConfigurationError(f"a store kind is a non-empty name without ':', not {kind!r}")
    _REGISTERED[kind] = opener


def store_kinds() -> list[str]:
    """The names ``--store`` accepts, from installed packages and :func:`register_store`."""
    return sorted(set(_declared()) | set(_REGISTERED))


def open_store(
    spec: str, collection: str, *, quantization: str | None = None, sparse: bool | None = None
) -> VectorStore:
    """``qdrant`` / ``qdrant:./folder`` / ``qdrant:http://host:6333``; the same for ``milvus``
    and every other installed kind.

    A bare kind opens its embedded default (``./.harrier/...``: Qdrant Edge for ``qdrant``,
    qdrant-client's local mode for ``qdrant-local``, Milvus Lite for ``milvus``); a value with
    ``://`` is a server address, anything else a local path. Credentials come from the
    environment. ``quantization`` (``scalar`` or ``binary``) is a Qdrant collection option;
    ``sparse``: None (BM25 vectors where the store has them), True (demanded: a store without
    BM25 refuses) or False (a collection this store creates gets none).
    """
    kind, _, location = spec.partition(":")
    request = StoreRequest(kind, collection, location, sparse, quantization)
    return _opener(kind)(request)


def _declared() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def _opener(kind: str) -> Opener:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    declared = _declared()
    if kind not in declared:
        raise ConfigurationError(
            f"unknown store {kind!r}; use one of {', '.join(store_kinds())} (a store package "
            f"adds its kind through the {ENTRY_POINT_GROUP!r} entry point group)"
        )
    try:
        opener: Opener = declared[kind].load()
    except ImportError as exc:
        raise ConfigurationError(f"the {kind} store cannot be loaded: {exc}") from None
    return opener
