"""harrier: reference-exact, fast embeddings with Microsoft's Harrier-OSS-v1 models.

Names are imported on first use (PEP 562), so ``import harrier`` (and a store connector that
imports it) loads neither torch nor transformers until an ``Embedder`` is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harrier._embedder import Embedder
    from harrier._engine import EmbeddingEngine
    from harrier._engine_registry import EngineRequest, engine_kinds, open_engine, register_engine
    from harrier._errors import (
        CollectionMismatchError,
        ConfigurationError,
        EmbeddingOutOfMemoryError,
        EmbeddingServerError,
        EmptyTextError,
        EngineOutputError,
        HarrierError,
        InputError,
        InputTypeError,
        ModelLoadError,
        ModelNotFoundError,
        NonFiniteEmbeddingError,
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
    from harrier._model_files import HARRIER_RETRIEVAL_PROMPT, model_folder
    from harrier._pooling import l2_normalize, last_token_pooling, mean_pooling
    from harrier._records import SPAN_FIELDS, Hit, SpanRecord, document_hash, span_id
    from harrier._remote import RemoteEmbedder
    from harrier._settings import DEFAULT_MODEL, EmbedderSettings
    from harrier._spans import Span, Splitter, split_spans
    from harrier.ingestion._copy import CopyReport, copy_collection
    from harrier.ingestion._ingest import ingest
    from harrier.ingestion._options import IngestOptions
    from harrier.ingestion._report import IngestReport
    from harrier.ingestion._signals import RunInterrupted
    from harrier.sources._documents import SourceDocument
    from harrier.stores.base import StoredDocument, VectorStore, retry
    from harrier.stores.bm25 import SPARSE_VECTOR_NAME, Bm25Encoder, Bm25Settings

_LAZY = {
    "Bm25Encoder": "harrier.stores.bm25",
    "Bm25Settings": "harrier.stores.bm25",
    "CollectionMismatchError": "harrier._errors",
    "ConfigurationError": "harrier._errors",
    "CopyReport": "harrier.ingestion._copy",
    "DEFAULT_K": "harrier._index",
    "DEFAULT_MODEL": "harrier._settings",
    "Embedder": "harrier._embedder",
    "EmbedderSettings": "harrier._settings",
    "EmbeddingEngine": "harrier._engine",
    "EmbeddingOutOfMemoryError": "harrier._errors",
    "EmbeddingServerError": "harrier._errors",
    "EmptyTextError": "harrier._errors",
    "EngineOutputError": "harrier._errors",
    "EngineRequest": "harrier._engine_registry",
    "HARRIER_RETRIEVAL_PROMPT": "harrier._model_files",
    "HarrierError": "harrier._errors",
    "Hit": "harrier._records",
    "Index": "harrier._index",
    "IngestOptions": "harrier.ingestion._options",
    "IngestReport": "harrier.ingestion._report",
    "InputError": "harrier._errors",
    "InputTypeError": "harrier._errors",
    "ModelIdentity": "harrier._identity",
    "ModelLoadError": "harrier._errors",
    "ModelNotFoundError": "harrier._errors",
    "NoSparseVectorsError": "harrier._errors",
    "NonFiniteEmbeddingError": "harrier._errors",
    "RemoteEmbedder": "harrier._remote",
    "RunInterrupted": "harrier.ingestion._signals",
    "SPAN_FIELDS": "harrier._records",
    "SPARSE_VECTOR_NAME": "harrier.stores.bm25",
    "SourceDocument": "harrier.sources._documents",
    "SourceError": "harrier._errors",
    "Span": "harrier._spans",
    "SpanRecord": "harrier._records",
    "Splitter": "harrier._spans",
    "StoreDamagedError": "harrier._errors",
    "StoreError": "harrier._errors",
    "StoreLimitError": "harrier._errors",
    "StoreUnavailableError": "harrier._errors",
    "StoreWriteError": "harrier._errors",
    "StoredDocument": "harrier.stores.base",
    "TextTooLongError": "harrier._errors",
    "UnknownPromptError": "harrier._errors",
    "VectorStore": "harrier.stores.base",
    "copy_collection": "harrier.ingestion._copy",
    "document_hash": "harrier._records",
    "engine_kinds": "harrier._engine_registry",
    "ingest": "harrier.ingestion._ingest",
    "l2_normalize": "harrier._pooling",
    "last_token_pooling": "harrier._pooling",
    "mean_pooling": "harrier._pooling",
    "model_folder": "harrier._model_files",
    "open_engine": "harrier._engine_registry",
    "register_engine": "harrier._engine_registry",
    "retry": "harrier.stores.base",
    "span_id": "harrier._records",
    "split_spans": "harrier._spans",
}

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
    "EmbeddingEngine",
    "EmbeddingOutOfMemoryError",
    "EmbeddingServerError",
    "EmptyTextError",
    "EngineOutputError",
    "EngineRequest",
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
    "NonFiniteEmbeddingError",
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
    "engine_kinds",
    "ingest",
    "l2_normalize",
    "last_token_pooling",
    "mean_pooling",
    "model_folder",
    "open_engine",
    "register_engine",
    "retry",
    "span_id",
    "split_spans",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harrier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
