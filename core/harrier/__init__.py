"""harrier: reference-exact, fast embeddings with Microsoft's Harrier-OSS-v1 models."""

from __future__ import annotations

from harrier._bm25 import SPARSE_VECTOR_NAME, Bm25Encoder, Bm25Settings
from harrier._copy import CopyReport, copy_collection
from harrier._documents import SourceDocument
from harrier._embedder import Embedder
from harrier._errors import (
    CollectionMismatchError,
    ConfigurationError,
    EmbeddingOutOfMemoryError,
    EmbeddingServerError,
    EmptyTextError,
    HarrierError,
    InputError,
    InputTypeError,
    ModelLoadError,
    ModelNotFoundError,
    NoSparseVectorsError,
    SourceError,
    StoreDamagedError,
    StoreError,
    StoreLimitError,
    StoreUnavailableError,
    StoreWriteError,
    TextTooLongError,
    UnknownPromptError,
)
from harrier._identity import ModelIdentity
from harrier._index import DEFAULT_K, Index
from harrier._ingest import ingest
from harrier._model_files import HARRIER_RETRIEVAL_PROMPT
from harrier._options import IngestOptions
from harrier._pooling import l2_normalize, last_token_pooling, mean_pooling
from harrier._records import SPAN_FIELDS, Hit, SpanRecord, document_hash, span_id
from harrier._remote import RemoteEmbedder
from harrier._report import IngestReport
from harrier._settings import DEFAULT_MODEL, EmbedderSettings
from harrier._signals import RunInterrupted
from harrier._spans import Span, Splitter, split_spans
from harrier._store import StoredDocument, VectorStore, retry

__all__ = [  # noqa: RUF022 - plain sorted order, checked by a test
    "Bm25Encoder",
    "Bm25Settings",
    "CollectionMismatchError",
    "ConfigurationError",
    "CopyReport",
    "DEFAULT_K",
    "DEFAULT_MODEL",
    "Embedder",
    "EmbedderSettings",
    "EmbeddingOutOfMemoryError",
    "EmbeddingServerError",
    "EmptyTextError",
    "HARRIER_RETRIEVAL_PROMPT",
    "HarrierError",
    "Hit",
    "Index",
    "IngestOptions",
    "IngestReport",
    "InputError",
    "InputTypeError",
    "ModelIdentity",
    "ModelLoadError",
    "ModelNotFoundError",
    "NoSparseVectorsError",
    "RemoteEmbedder",
    "RunInterrupted",
    "SPAN_FIELDS",
    "SPARSE_VECTOR_NAME",
    "SourceDocument",
    "SourceError",
    "Span",
    "SpanRecord",
    "Splitter",
    "StoreDamagedError",
    "StoreError",
    "StoreLimitError",
    "StoreUnavailableError",
    "StoreWriteError",
    "StoredDocument",
    "TextTooLongError",
    "UnknownPromptError",
    "VectorStore",
    "copy_collection",
    "document_hash",
    "ingest",
    "l2_normalize",
    "last_token_pooling",
    "mean_pooling",
    "retry",
    "span_id",
    "split_spans",
]
__version__ = "0.1.0"
