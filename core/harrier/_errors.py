"""Every error harrier raises, rooted in one base class.

HarrierError
├── ModelLoadError              the model could not be loaded
│   └── ModelNotFoundError      not cached, and the Hub is unreachable or has no such repo
├── ConfigurationError          a setting is invalid (dtype, pooling, device, limits)
│   └── UnknownPromptError      a prompt name the model does not ship (also a KeyError)
├── InputError                  a text cannot be embedded as given (also a ValueError)
│   ├── TextTooLongError        longer than max_tokens and truncate=False
│   └── EmptyTextError          tokenises to no content tokens
├── InputTypeError              an input is not a str (also a TypeError)
├── EmbeddingOutOfMemoryError   one single text does not fit the device's memory
├── NonFiniteEmbeddingError     the model produced NaN or infinity for a text (no vector kept)
├── EngineOutputError           an engine answered with another number or length of vectors
├── EmbeddingServerError        a harrier server failed, refused the key or is unreachable
├── SourceError                 an ingestion source cannot be read (missing, bad format)
└── StoreError                  a vector store operation failed
    ├── StoreUnavailableError   the store cannot be reached or refuses the credentials
    ├── CollectionMismatchError the collection was made by another model or dimension
    ├── NoSparseVectorsError    sparse or hybrid search on a collection without BM25 vectors
    ├── StoreLimitError         a value exceeds what the store can hold
    ├── StoreDamagedError       the store's files are damaged or were written by another tool
    └── StoreWriteError         a write failed after retries (says how to resume)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HarrierError(Exception):
    """Base class of every error raised by harrier-suite.

    Every subclass pickles with its attributes (``index``, ``token_count``...), so an error
    raised in another process (a Ray worker) arrives whole.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), self.args, dict(self.__dict__))


def _restore(cls: type[HarrierError], args: tuple[Any, ...], state: dict[str, Any]) -> HarrierError:
    """Rebuild a pickled error without calling its ``__init__`` (whose signature may differ)."""
    error = BaseException.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ModelLoadError(HarrierError):
    """The model folder or its files could not be loaded."""


class ModelNotFoundError(ModelLoadError):
    """The model is neither a local folder nor in the cache, and the Hub cannot provide it."""


class ConfigurationError(HarrierError, ValueError):
    """A setting is invalid for this model or machine."""


class UnknownPromptError(ConfigurationError, KeyError):
    """A prompt name that the model's ``config_sentence_transformers.json`` does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(HarrierError, ValueError):
    """A text cannot be embedded as given."""


class TextTooLongError(InputError):
    """A text is longer than ``max_tokens`` and truncation was not asked for."""

    def __init__(self, index: int, token_count: int, limit: int) -> None:
        self.index = index
        self.token_count = token_count
        self.limit = limit
        super().__init__(
            f"text at index {index} has {token_count} tokens, over the limit of {limit}; "
            "split it first (harrier.split_spans) or pass truncate=True to cut it"
        )


class EmptyTextError(InputError):
    """A text tokenises to nothing but special tokens, so it has no meaning to embed."""

    def __init__(self, index: int) -> None:
        self.index = index
        super().__init__(
            f"text at index {index} is empty (it has no tokens besides the model's special "
            "tokens); drop empty texts before embedding them"
        )


class InputTypeError(HarrierError, TypeError):
    """An input is not of the type expected: the item at ``index``, or (``index`` None) the
    whole input, a single string where a list of them goes."""

    def __init__(
        self, index: int | None, value: object, *, expected: str = "str", hint: str = ""
    ) -> None:
        self.index = index
        where = "the input" if index is None else f"input at index {index}"
        message = f"{where} is a {type(value).__name__}, expected {expected}"
        super().__init__(f"{message}: {hint}" if hint else message)


class EmbeddingOutOfMemoryError(HarrierError, MemoryError):
    """A single text does not fit the device's memory even alone in its batch."""


class NonFiniteEmbeddingError(HarrierError, ArithmeticError):
    """The model produced NaN or infinite values for a text (float16 overflow, damaged
    weights); ``index`` is the first text affected and ``indices`` all of them, in the caller's
    order. No vector is returned."""

    def __init__(self, index: int, total: int, dtype: str, indices: Sequence[int] = ()) -> None:
        self.index = index
        self.indices = list(indices) or [index]
        super().__init__(
            f"the model produced NaN or infinite values for {len(self.indices)} of {total} "
            f"texts (first at index {index}) in {dtype}; no vectors were returned. Load the "
            "model in bfloat16 or float32 (float16 overflows in Gemma-3) and check its weights"
        )


class EngineOutputError(HarrierError):
    """An engine returned another number of vectors than texts, or vectors of another length
    than its ``dimension`` (a third-party engine's bug); nothing of that answer is stored."""


class EmbeddingServerError(HarrierError):
    """A ``harrier serve`` server cannot be reached, refuses the API key, stays overloaded or
    fails; ``status`` is the HTTP status (None when there was no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message, status)

    def __str__(self) -> str:
        return str(self.args[0])


class SourceError(HarrierError):
    """An ingestion source cannot be read."""


class StoreError(HarrierError):
    """A vector store operation failed."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached, or it refuses the credentials."""


class CollectionMismatchError(StoreError):
    """The collection was created by another model or with another dimension."""


class NoSparseVectorsError(StoreError):
    """Sparse or hybrid search asked of a collection that holds no BM25 vectors."""


class StoreLimitError(StoreError):
    """A value (text, metadata, request) exceeds what the store can hold."""


class StoreDamagedError(StoreError):
    """The store's files on disk are damaged, or were not written by harrier."""


class StoreWriteError(StoreError):
    """A write failed after its retries."""
