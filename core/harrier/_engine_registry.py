"""Engine kinds by name: ``--engine KIND[:WHERE]`` opens the engine a package declares.

A package makes an engine kind available by declaring an entry point in the group
``harrier.engines`` whose object is an opener, ``open(request: EngineRequest) -> engine``, the
engine having the members of :class:`harrier.EmbeddingEngine`::

    [project.entry-points."harrier.engines"]
    st = "harrier_engine_st:open_engine"

harrier's own two are declared the same way in its pyproject: ``harrier`` (the local
``Embedder``, the default) and ``remote`` (``remote:URL``, a ``harrier serve`` server). Listing
the kinds reads the installed packages' metadata only; an engine's module is imported when that
engine is opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from harrier._engine import EmbeddingEngine, is_engine
from harrier._errors import ConfigurationError

ENTRY_POINT_GROUP = "harrier.engines"
DEFAULT_ENGINE = "harrier"


@dataclass(frozen=True)
class EngineRequest:
    """What the command line (or :func:`open_engine`) asks of an engine kind's opener.

    ``location`` is what follows ``KIND:`` (empty when nothing does: a server's address for
    ``remote``, whatever a package's engine documents for its own). ``model`` is ``--model`` as
    given (None: the opener's default, :data:`harrier.DEFAULT_MODEL` for harrier's own);
    ``device``, ``devices`` and ``max_tokens`` are the options of the same names, None when not
    given. An opener refuses what it cannot honour (:meth:`refuse`), never ignores it.
    """

    kind: str
    location: str = ""
    model: str | None = None
    device: str | None = None
    devices: Sequence[str] | None = None
    max_tokens: int | None = None

    def refuse(self, *options: str) -> None:
        """For an opener without some of ``model``, ``device``, ``devices``, ``max_tokens`` and
        ``location``: a ``ConfigurationError`` naming the first of them that was given."""
        for option in options:
            if getattr(self, option) not in (None, ""):
                flag = "--" + option.replace("_", "-")
                if option == "location":
                    flag = f"{self.kind}:..."
                raise ConfigurationError(f"the {self.kind} engine takes no {flag}")


Opener = Callable[[EngineRequest], Any]
_REGISTERED: dict[str, Opener] = {}


def register_engine(kind: str, opener: Opener) -> None:
    """Make ``kind`` open with ``opener`` in this process (an entry point does it for an
    installed package)."""
    if not kind or ":" in kind:
        raise ConfigurationError(f"an engine kind is a non-empty name without ':', not {kind!r}")
    _REGISTERED[kind] = opener


def engine_kinds() -> list[str]:
    """The names ``--engine`` accepts, from installed packages and :func:`register_engine`."""
    return sorted(set(_declared()) | set(_REGISTERED))


def open_engine(
    spec: str = DEFAULT_ENGINE,
    *,
    model: str | None = None,
    device: str | None = None,
    devices: Sequence[str] | None = None,
    max_tokens: int | None = None,
) -> EmbeddingEngine:
    """The engine ``spec`` names: ``harrier`` (the local ``Embedder`` of ``model``),
    ``remote:http://host:8080`` (a ``harrier serve`` server; its key from ``HARRIER_API_KEY``),
    or any installed package's kind, ``KIND`` or ``KIND:WHERE``.

    Raises ``ConfigurationError`` for an unknown kind, an opener that cannot be imported, an
    option the kind does not take, or an opener whose result lacks the engine's members.
    """
    kind, _, location = spec.partition(":")
    request = EngineRequest(kind, location, model, device, devices, max_tokens)
    engine = _opener(kind)(request)
    if not is_engine(engine):
        raise ConfigurationError(
            f"the {kind} engine's opener gave {type(engine).__name__!r}, which lacks members of "
            "harrier.EmbeddingEngine (docs/writing-an-engine.md)"
        )
    return engine


def open_local(request: EngineRequest) -> EmbeddingEngine:
    """``harrier``: the model loaded here (:class:`harrier.Embedder`)."""
    from harrier._embedder import Embedder
    from harrier._settings import DEFAULT_MODEL

    request.refuse("location")
    return Embedder.from_pretrained(
        request.model or DEFAULT_MODEL,
        device=request.device,
        devices=list(request.devices) if request.devices else None,
        max_tokens=request.max_tokens,
    )


def open_remote(request: EngineRequest) -> EmbeddingEngine:
    """``remote:URL``: a ``harrier serve`` server, its API key from ``HARRIER_API_KEY``."""
    from harrier._remote import RemoteEmbedder

    if not request.location:
        raise ConfigurationError("the remote engine needs the server: remote:http://host:8080")
    request.refuse("model", "device", "devices", "max_tokens")
    return RemoteEmbedder(request.location, api_key=os.environ.get("HARRIER_API_KEY"))


def _declared() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def _opener(kind: str) -> Opener:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    declared = _declared()
    if kind not in declared:
        raise ConfigurationError(
            f"unknown engine {kind!r}; use one of {', '.join(engine_kinds())} (an engine "
            f"package adds its kind through the {ENTRY_POINT_GROUP!r} entry point group)"
        )
    try:
        opener: Opener = declared[kind].load()
    except ImportError as exc:
        raise ConfigurationError(f"the {kind} engine cannot be loaded: {exc}") from None
    return opener
