"""The schema, index and recorded model of a harrier Milvus collection (docs/milvus.md)."""

from __future__ import annotations

import logging
from typing import Any

from harrier.stores import CollectionMismatchError
from harrier_milvus._bm25 import add_bm25_fields, add_bm25_index, check_server
from harrier_milvus._payload import MAX_PART_BYTES, MAX_PARTS

try:
    from pymilvus import CollectionSchema, DataType, MilvusClient, MilvusException
    from pymilvus.milvus_client.index import IndexParams
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("harrier_milvus needs pymilvus: pip install 'harrier-suite[milvus]'") from exc

logger = logging.getLogger("harrier")

LAYOUT_VERSION = 1
"""Bumped when the row layout changes; a collection of another layout is refused."""

PROPERTY_PREFIX = "harrier."
"""Before each property a collection records: ``model``, ``dimension``, ``layout``."""
PROPERTY_LAYOUT = "harrier.layout"

LOAD_SECONDS = 300.0
"""Loading a collection into memory may take longer than other calls."""

_HNSW = {"M": 16, "efConstruction": 200}
_MIN_EF = 64


def build_schema(client: MilvusClient, dimension: int, bm25: bool = False) -> CollectionSchema:
    """One row per span; every string a real server holds is under its byte limits."""
    schema = client.create_schema(
        auto_id=False,
        enable_dynamic_field=False,
        description="harrier spans (see harrier-suite docs/milvus.md)",
    )
    schema.add_field(
        "id",
        DataType.VARCHAR,
        is_primary=True,
        max_length=64,
        description="UUIDv5 of (doc_id, span_index)",
    )
    schema.add_field(
        "vector", DataType.FLOAT_VECTOR, dim=dimension, description="unit-length embedding, COSINE"
    )
    schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_PART_BYTES)
    for name in ("span_index", "span_count", "start", "end", "token_count"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
    schema.add_field("model", DataType.VARCHAR, max_length=MAX_PART_BYTES)
    _add_parts_field(schema, "text_parts", 'the exact text is "".join(text_parts)')
    schema.add_field(
        "metadata",
        DataType.JSON,
        description="filterable copy of the metadata (may omit large entries)",
    )
    _add_parts_field(
        schema, "metadata_json", 'the exact metadata is json.loads("".join(metadata_json))'
    )
    if bm25:
        add_bm25_fields(schema)
    return schema


def _add_parts_field(schema: CollectionSchema, name: str, description: str) -> None:
    """A string of any length, as an array of parts each under a VARCHAR's byte limit."""
    schema.add_field(
        name,
        DataType.ARRAY,
        element_type=DataType.VARCHAR,
        max_capacity=MAX_PARTS,
        max_length=MAX_PART_BYTES,
        description=description,
    )


def build_index(
    client: MilvusClient, lite: bool, bm25: dict[str, Any] | None = None
) -> IndexParams:
    """Lite: FLAT (exact, all it supports); a server: HNSW. Both COSINE; BM25 when recorded."""
    params = client.prepare_index_params()
    if lite:
        params.add_index("vector", index_type="FLAT", metric_type="COSINE")
    else:
        params.add_index("vector", index_type="HNSW", metric_type="COSINE", params=_HNSW)
    if bm25 is not None:
        add_bm25_index(params, bm25)
    return params


def doc_id_index(client: MilvusClient) -> IndexParams:
    """The server's default scalar index on ``doc_id`` (Trie on 2.3, INVERTED later)."""
    params = client.prepare_index_params()
    params.add_index("doc_id", index_type="", index_name="doc_id_index")
    return params


def create_span_collection(
    client: MilvusClient,
    collection: str,
    recorded: dict[str, str],
    dimension: int,
    *,
    lite: bool,
    timeout: float,
    bm25: dict[str, Any] | None = None,
) -> None:
    """Create, index and load the collection; index creation does not poll (Lite cannot).
    With ``bm25`` (the BM25 configuration, also in ``recorded``) it gets BM25 vectors."""
    if bm25 is not None:
        check_server(client, lite)
    client.create_collection(
        collection,
        schema=build_schema(client, dimension, bm25 is not None),
        consistency_level="Strong",
        properties={**recorded, PROPERTY_LAYOUT: str(LAYOUT_VERSION)},
        timeout=timeout,
    )
    client.create_index(collection, build_index(client, lite, bm25), timeout=timeout, sync=False)
    if not lite:  # speeds up filters on doc_id; a server that refuses it works without it
        try:
            client.create_index(collection, doc_id_index(client), timeout=timeout, sync=False)
        except MilvusException as exc:
            logger.info("no scalar index on doc_id in %s: %s", collection, exc.message)
    client.load_collection(collection, timeout=max(timeout, LOAD_SECONDS))


def search_params(lite: bool, k: int) -> dict[str, Any]:
    if lite:
        return {"metric_type": "COSINE"}
    return {"metric_type": "COSINE", "params": {"ef": max(k, _MIN_EF)}}


def check_layout(collection: str, recorded: dict[str, Any]) -> None:
    """Refuse a harrier collection of another layout."""
    layout = int(recorded.get(PROPERTY_LAYOUT, LAYOUT_VERSION))
    if layout != LAYOUT_VERSION:
        raise CollectionMismatchError(
            f"collection {collection!r} uses harrier's Milvus layout {layout}, this version "
            f"reads layout {LAYOUT_VERSION}; upgrade harrier-suite or use a new collection"
        )
