"""harrier.stores: the kit a vector store connector is built from (docs/writing-a-store.md).

- :class:`VectorStore` (``base``): the interface the pipeline, ``Index`` and ``harrier copy``
  use, with what every store does the same way (skip checks, deletes, retries, typed errors);
- ``filters``: the one metadata filter description every store translates;
- ``fusion``: reciprocal rank fusion for stores that fuse hybrid results themselves;
- ``bm25``: the BM25 text preparation every store applies, so terms agree across stores;
- ``registry``: store kinds by name, found through the ``harrier.stores`` entry point group;
- the records a store holds and returns (:class:`SpanRecord`, :class:`Hit`) and its errors.

:class:`harrier.testing.StoreContract` is the test suite a store passes.
"""

from __future__ import annotations

from harrier._batching import size_bounded
from harrier._errors import (
    CollectionMismatchError,
    ConfigurationError,
    NoSparseVectorsError,
    StoreDamagedError,
    StoreError,
    StoreLimitError,
    StoreUnavailableError,
    StoreWriteError,
)
from harrier._identity import ModelIdentity
from harrier._records import SPAN_FIELDS, Hit, SpanRecord, canonical_json, span_id
from harrier.stores.base import StoredDocument, VectorStore, retry
from harrier.stores.bm25 import (
    SPARSE_VECTOR_NAME,
    Bm25Encoder,
    Bm25Settings,
    document_terms,
    query_terms,
)
from harrier.stores.filters import AllOf, AnyOf, Condition, Filter, parse_filter
from harrier.stores.fusion import RRF_K, arm_limit, fuse_ranks
from harrier.stores.registry import (
    ENTRY_POINT_GROUP,
    StoreRequest,
    open_store,
    register_store,
    store_kinds,
)

__all__ = [  # noqa: RUF022 - plain sorted order, checked by a test
    "AllOf",
    "AnyOf",
    "Bm25Encoder",
    "Bm25Settings",
    "CollectionMismatchError",
    "Condition",
    "ConfigurationError",
    "ENTRY_POINT_GROUP",
    "Filter",
    "Hit",
    "ModelIdentity",
    "NoSparseVectorsError",
    "RRF_K",
    "SPAN_FIELDS",
    "SPARSE_VECTOR_NAME",
    "SpanRecord",
    "StoreDamagedError",
    "StoreError",
    "StoreLimitError",
    "StoreRequest",
    "StoreUnavailableError",
    "StoreWriteError",
    "StoredDocument",
    "VectorStore",
    "arm_limit",
    "canonical_json",
    "document_terms",
    "fuse_ranks",
    "open_store",
    "parse_filter",
    "query_terms",
    "register_store",
    "retry",
    "size_bounded",
    "span_id",
    "store_kinds",
]
