"""BM25 on Milvus: its own BM25 function over harrier's prepared text (docs/milvus.md).

The ``bm25_text`` VARCHAR holds the span's terms as ``harrier`` prepares them for every store
(CJK characters and bigrams, case and diacritics folded), joined by spaces; Milvus' ``standard``
analyzer splits it back into those terms and the BM25 function turns them into the ``sparse``
field. A VARCHAR holds at most 65,535 bytes: a longer span keeps every distinct term with its
count scaled down in proportion (see :func:`bm25_text`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from harrier.stores import StoreError, document_terms, query_terms
from harrier_milvus._payload import MAX_PART_BYTES

try:
    from pymilvus import (
        AnnSearchRequest,
        CollectionSchema,
        DataType,
        Function,
        FunctionType,
        MilvusClient,
    )
    from pymilvus.milvus_client.index import IndexParams
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("harrier_milvus needs pymilvus: pip install 'harrier-suite[milvus]'") from exc

TEXT_FIELD = "bm25_text"
SPARSE_FIELD = "sparse"
MIN_SERVER = (2, 5)
"""Milvus servers have the BM25 function from 2.5."""
_VERSION = re.compile(r"(\d+)\.(\d+)")


def add_bm25_fields(schema: CollectionSchema) -> None:
    """The analysed text, the sparse field, and the BM25 function between them."""
    schema.add_field(
        TEXT_FIELD,
        DataType.VARCHAR,
        max_length=MAX_PART_BYTES,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
        description="harrier's BM25 terms of the span, space-separated",
    )
    schema.add_field(
        SPARSE_FIELD,
        DataType.SPARSE_FLOAT_VECTOR,
        description="BM25 term frequencies, made by the server",
    )
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=[TEXT_FIELD],
            output_field_names=[SPARSE_FIELD],
        )
    )


def add_bm25_index(params: IndexParams, record: dict[str, Any]) -> None:
    """k1 and b go in a nested ``params`` (the wire format servers read, and the only one Milvus
    Lite 3.2.2 reads: it ignores them flattened, as pymilvus 3 sends them otherwise)."""
    bm25 = {"bm25_k1": record["k"], "bm25_b": record["b"]}
    params.add_index(
        SPARSE_FIELD,
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"params": bm25},
    )


def search_requests(
    vector: Any, text: str, limit: int, expr: str, dense_params: dict[str, Any]
) -> list[AnnSearchRequest]:
    """[dense, BM25] requests for ``hybrid_search`` (only BM25 when ``vector`` is None)."""
    sparse = AnnSearchRequest(
        data=[" ".join(query_terms(text))],
        anns_field=SPARSE_FIELD,
        param={"metric_type": "BM25"},
        limit=limit,
        expr=expr or None,
    )
    if vector is None:
        return [sparse]
    dense = AnnSearchRequest(
        data=[np.asarray(vector, dtype=np.float32).tolist()],
        anns_field="vector",
        param=dense_params,
        limit=limit,
        expr=expr or None,
    )
    return [dense, sparse]


def server_without_bm25(client: MilvusClient, lite: bool) -> str | None:
    """The version of a server older than 2.5 (no BM25 function), or None (Lite has it)."""
    if lite:
        return None
    version = str(client.get_server_version())
    match = _VERSION.search(version)
    if match and (int(match.group(1)), int(match.group(2))) < MIN_SERVER:
        return version
    return None


def check_server(client: MilvusClient, lite: bool) -> None:
    """Refuse a BM25 collection on a server older than 2.5, before anything is created."""
    if (version := server_without_bm25(client, lite)) is not None:
        raise StoreError(
            f"this Milvus server runs {version}, which has no BM25 function: hybrid and sparse "
            "search need Milvus >= 2.5 (or Milvus Lite). Upgrade the server, or create a "
            "dense-only collection with --no-sparse (sparse=False)"
        )


def bm25_text(text: str, limit: int = MAX_PART_BYTES) -> str:
    """The BM25 terms of ``text`` joined by spaces, in at most ``limit`` UTF-8 bytes.

    Under the limit: every term, so Milvus scores the span exactly. Over it: each distinct term
    repeated ``round(count / s)`` times (at least once), with the smallest ``s`` that fits, so
    every term of the whole span is still found and frequencies keep their proportions; if the
    distinct terms alone do not fit, the first ones in the span are kept.
    """
    terms = document_terms(text)
    joined = " ".join(terms)
    if len(joined.encode("utf-8")) <= limit:
        return joined
    counts = Counter(terms)
    sizes = {term: len(term.encode("utf-8")) + 1 for term in counts}

    def size(scale: float) -> int:
        return sum(max(1, round(c / scale)) * sizes[t] for t, c in counts.items())

    low, high = 1.0, float(max(counts.values()))
    if size(high) > limit:
        kept, total = [], 0
        for term in counts:
            if total + sizes[term] > limit:
                break
            kept.append(term)
            total += sizes[term]
        return " ".join(kept)
    for _ in range(40):  # the smallest scale that fits, to a fraction of a count
        middle = (low + high) / 2
        low, high = (low, middle) if size(middle) <= limit else (middle, high)
    return " ".join(" ".join([t] * max(1, round(c / high))) for t, c in counts.items())
