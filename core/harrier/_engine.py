"""``EmbeddingEngine``: what the pipeline, splitter, ``Index`` and adapters need of an engine.

``harrier.Embedder`` (local, torch) and ``harrier.RemoteEmbedder`` (a ``harrier serve`` server)
implement it; so can a fake, an ONNX or another remote engine, with no edit to core. An engine
that can also embed token ids it computed itself (as the splitter keeps them on each ``Span``)
implements :class:`TokenIdEngine`, and the pipeline then skips tokenising spans a second time.
Check with :func:`is_engine` / :func:`embeds_token_ids` (members looked up statically: on Python
3.11 ``isinstance`` on a protocol would run properties), never ``isinstance`` on a concrete engine.

This module imports neither torch nor transformers: it only describes.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, TypeGuard

import numpy as np

from harrier._errors import EngineOutputError, NonFiniteEmbeddingError
from harrier._identity import ModelIdentity


class EmbeddingEngine(Protocol):
    """Texts in, L2-normalised float32 vectors (``(len(texts), dimension)``) out, in order.

    Documents are embedded as plain text; queries with the query prompt in front
    (:meth:`query_prompt`). Bad input raises the typed errors of ``harrier`` (``InputTypeError``,
    ``EmptyTextError``, ``TextTooLongError`` over :attr:`max_tokens`), never a truncated vector.
    """

    @property
    def model_name(self) -> str:
        """The model's Hub id or folder, as given."""
        ...

    @property
    def identity(self) -> ModelIdentity:
        """Which weights these are (name and fingerprint), as vector stores record it."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """The longest text (in tokens, special tokens included) accepted."""
        ...

    @property
    def prompts(self) -> dict[str, str]:
        """The named query prompts the model ships."""
        ...

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer, as the engine uses it (the splitter reads it)."""
        ...

    def query_prompt(self, instruction: str | None = None, prompt_name: str | None = None) -> str:
        """The text put before every query; raises ``UnknownPromptError`` on a bad name."""
        ...

    def embed_documents(
        self, texts: Sequence[str], *, show_progress: bool | None = None
    ) -> np.ndarray:
        """Embed documents as plain text."""
        ...

    def embed_queries(
        self,
        texts: Sequence[str],
        *,
        instruction: str | None = None,
        prompt_name: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed queries, each with the query prompt in front."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts of documents, special tokens included."""
        ...


class TokenIdEngine(EmbeddingEngine, Protocol):
    """An engine that also embeds rows of its own tokenizer's ids (what ``token_ids`` gives)."""

    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token ids (``int32``, special tokens included, never truncated)."""
        ...

    def embed_token_ids(
        self,
        rows: Sequence[Sequence[int] | np.ndarray],
        *,
        prompt: str | None = None,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """The vectors ``embed_documents`` gives for the texts these ids encode."""
        ...


def is_engine(obj: object) -> TypeGuard[EmbeddingEngine]:
    """Whether ``obj`` has every member of :class:`EmbeddingEngine`. Looked up statically, so no
    property runs (``identity`` may hash weights, a remote ``tokenizer`` may download)."""
    return _has(obj, _ENGINE)


def embeds_token_ids(engine: EmbeddingEngine) -> TypeGuard[TokenIdEngine]:
    """Whether ``engine`` also embeds its own token ids (:class:`TokenIdEngine`)."""
    return _has(engine, _TOKEN_IDS)


def checked_vectors(vectors: Any, count: int, dimension: int) -> np.ndarray:
    """An engine's answer for ``count`` texts as ``(count, dimension)`` float32 rows, or the
    typed error: ``NonFiniteEmbeddingError`` for NaN or infinite rows (never a stored vector),
    ``EngineOutputError`` for an answer of another shape."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.shape != (count, dimension):
        raise EngineOutputError(
            f"the engine returned vectors of shape {out.shape} for {count} texts of dimension "
            f"{dimension}; an engine returns one row of its dimension per text, in order"
        )
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite).tolist()
        raise NonFiniteEmbeddingError(bad[0], count, str(out.dtype), bad)
    return out


def _has(obj: object, names: tuple[str, ...]) -> bool:
    missing = object()
    return all(inspect.getattr_static(obj, name, missing) is not missing for name in names)


_ENGINE = tuple(n for n in vars(EmbeddingEngine) if not n.startswith("_"))
_TOKEN_IDS = tuple(n for n in vars(TokenIdEngine) if not n.startswith("_"))
