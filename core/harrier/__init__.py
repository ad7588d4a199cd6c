"""harrier: reference-exact, fast embeddings with Microsoft's Harrier-OSS-v1 models."""

from __future__ import annotations

from harrier._embedder import DEFAULT_MODEL, Embedder
from harrier._errors import (
    ConfigurationError,
    EmbeddingOutOfMemoryError,
    EmptyTextError,
    HarrierError,
    InputError,
    InputTypeError,
    ModelLoadError,
    ModelNotFoundError,
    TextTooLongError,
    UnknownPromptError,
)
from harrier._model_files import HARRIER_RETRIEVAL_PROMPT
from harrier._pooling import l2_normalize, last_token_pooling, mean_pooling

__all__ = [  # noqa: RUF022 - plain sorted order, checked by a test
    "ConfigurationError",
    "DEFAULT_MODEL",
    "Embedder",
    "EmbeddingOutOfMemoryError",
    "EmptyTextError",
    "HARRIER_RETRIEVAL_PROMPT",
    "HarrierError",
    "InputError",
    "InputTypeError",
    "ModelLoadError",
    "ModelNotFoundError",
    "TextTooLongError",
    "UnknownPromptError",
    "l2_normalize",
    "last_token_pooling",
    "mean_pooling",
]
__version__ = "0.1.0"
