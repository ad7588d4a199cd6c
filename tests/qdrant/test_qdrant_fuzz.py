"""Fuzz: any text and any JSON-able metadata survive a Qdrant round trip unchanged."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient

import harrier
from harrier_qdrant import QdrantStore
from span_records import span_record

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc_id=st.text(max_size=40),
    text=TEXT,
    metadata=st.dictionaries(st.text(max_size=10), JSON, max_size=5),
)
def test_payload_round_trip(doc_id, text, metadata):
    store = QdrantStore("fuzz", client=QdrantClient(":memory:"))
    store.ensure_collection(harrier.ModelIdentity("m", "0" * 64), 4)
    vector = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    record = span_record(doc_id, text, vector, token_count=3, metadata=metadata)
    store.upsert([record])
    (back,) = store.fetch_spans(doc_id)
    assert (back.text, back.doc_id, back.metadata, back.id) == (text, doc_id, metadata, record.id)
    (hit,) = store.search_vector(vector, 1)
    assert (hit.text, hit.metadata) == (text, metadata)
    store.close()
