"""A Milvus row without harrier's span fields (another writer's, or a query that did not ask for
them) reads as a hit with its text and metadata and no span fields; as a record it is skipped
(logged at DEBUG). Never a KeyError."""

from __future__ import annotations

import logging

from harrier_milvus._payload import to_hit, to_record

FOREIGN = {"id": 7, "text_parts": ["rivers ", "and hills"], "metadata_json": ['{"a":', "1}"]}


def test_a_search_result_without_span_fields_is_a_hit():
    hit = to_hit({"id": 7, "distance": 0.25, "entity": dict(FOREIGN)})
    assert (hit.text, hit.metadata, hit.id, hit.score) == ("rivers and hills", {"a": 1}, "7", 0.25)
    assert (hit.doc_id, hit.span_index, hit.start, hit.end) == (None, None, None, None)
    bare = to_hit({"id": 8, "distance": 0.5, "entity": {}})  # not even text or metadata
    assert (bare.text, bare.metadata) == ("", {})


def test_a_record_without_span_fields_is_skipped(caplog):
    with caplog.at_level(logging.DEBUG, logger="harrier"):
        assert to_record({**FOREIGN, "vector": [0.0, 1.0]}) is None
    assert "skipping row 7" in caplog.text and "doc_id" in caplog.text
