"""The row layout, expressions and error classification, without a store."""

from __future__ import annotations

import json
import math

import grpc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymilvus import MilvusException
from pymilvus.exceptions import ParamError

import harrier
import harrier_milvus
from harrier import SpanRecord
from harrier_milvus._connection import is_transient, redact
from harrier_milvus._expr import literal, metadata_filter, quote
from harrier_milvus._payload import (
    filter_copy,
    read_metadata,
    read_text,
    request_chunks,
    row_bytes,
    split_utf8,
    to_row,
)
from span_records import span_record

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def test_public_names_are_sorted_and_exported():
    assert harrier_milvus.__all__ == sorted(harrier_milvus.__all__)
    assert all(hasattr(harrier_milvus, name) for name in harrier_milvus.__all__)


@given(text=TEXT, limit=st.integers(min_value=4, max_value=12))
def test_split_utf8_cuts_between_characters_within_the_limit(text, limit):
    parts = split_utf8(text, limit)
    assert "".join(parts) == text
    assert all(0 < len(part.encode("utf-8")) <= limit for part in parts)


def test_split_utf8_at_the_server_limit():
    text = "a" + "中" * 30_000 + "👩‍👩‍👧‍👦" * 5_000  # 215,001 bytes, boundaries off the limit
    parts = split_utf8(text)
    sizes = [len(p.encode("utf-8")) for p in parts]
    assert "".join(parts) == text and len(parts) == 4
    assert all(65_535 - 3 <= size <= 65_535 for size in sizes[:-1])
    assert split_utf8("") == []


def test_a_lone_surrogate_is_a_clear_store_error():
    with pytest.raises(UnicodeEncodeError):
        split_utf8("broken \ud800 text")
    with pytest.raises(harrier.StoreLimitError, match="lone surrogate"):
        to_row(span("broken \ud800 text", {}))


def span(text: str, metadata: dict) -> SpanRecord:
    return span_record(
        "d", text, np.ones(4, dtype=np.float32) / 2, doc_hash="h" * 64, metadata=metadata
    )


@given(metadata=st.dictionaries(TEXT, JSON, max_size=6), text=TEXT)
def test_rows_give_back_text_and_metadata_exactly(metadata, text):
    row = to_row(span(text, metadata))
    assert read_text(row) == text and read_metadata(row) == metadata
    assert read_text({"entity": row}) == text  # the shape of a search hit


def test_metadata_the_json_field_cannot_hold_is_kept_whole_in_the_parts():
    metadata = {
        "nan": math.nan,
        "inf": -math.inf,
        "huge": 2**70,
        "deep": {"n": -(2**64)},
        "big": "x" * 70_000,
        "lang": "en",
        "": "empty key",
        "n": 1.5,
    }
    row = to_row(span("t", metadata))
    back = read_metadata(row)
    assert math.isnan(back.pop("nan")) and back == {k: v for k, v in metadata.items() if k != "nan"}
    assert row["metadata"] == {"lang": "en", "": "empty key", "n": 1.5}
    assert all(len(p.encode("utf-8")) <= 65_535 for p in row["metadata_json"])


def test_the_filter_copy_keeps_the_smallest_entries_within_the_json_limit():
    metadata = {f"k{i}": "v" * (i * 1_000) for i in range(1, 20)}  # about 190 KB in all
    copy = filter_copy(metadata)
    size = len(json.dumps(copy, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert size <= 60_000 < 65_536
    assert list(copy) == [f"k{i}" for i in range(1, len(copy) + 1)]  # smallest first


def test_request_chunks_stay_under_their_budget():
    rows = [to_row(span("字" * 10_000, {"i": i})) for i in range(10)]
    chunks = list(request_chunks(rows, budget=100_000))
    assert [r for chunk in chunks for r in chunk] == rows
    assert all(sum(row_bytes(r) for r in chunk) <= 100_000 for chunk in chunks)
    assert len(chunks) == 4


def test_a_span_too_large_for_one_request_is_refused():
    with pytest.raises(harrier.StoreLimitError, match="smaller max_tokens"):
        to_row(span("x" * (33 * 2**20), {}))


def test_expressions_quote_every_character():
    assert quote('a\\b"c\nd\re\t\x01') == '"a\\\\b\\"c\\nd\\re\t\x01"'
    assert [literal(v) for v in (True, False, 3, 1.5, "x")] == ["true", "false", "3", "1.5", '"x"']
    assert metadata_filter({"lang": "en", "n": 2}) == (
        '(metadata["lang"] == "en" and metadata["n"] == 2)'
    )
    assert (
        metadata_filter({"a.b": ["x", 1]})
        == '(metadata["a"]["b"] == "x" or metadata["a"]["b"] == 1)'
    )
    assert metadata_filter("span_index < 3") == "span_index < 3"
    assert metadata_filter(None) == ""
    for bad in ({"k": [1, [2]]}, {"k": math.nan}, {"": 1}, 42):
        with pytest.raises(harrier.ConfigurationError):
            metadata_filter(bad)


class _RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def _chained(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (MilvusException(code=2, message="Fail connecting to server"), True),
        (MilvusException(code=8, message="rate limit exceeded"), True),
        (MilvusException(code=grpc.StatusCode.UNAVAILABLE, message="Retry timeout"), True),
        (_RpcError(grpc.StatusCode.DEADLINE_EXCEEDED), True),
        (ConnectionResetError("reset"), True),
        (
            _chained(
                MilvusException(code=2, message="Fail connecting"),
                _RpcError(grpc.StatusCode.UNAUTHENTICATED),
            ),
            False,
        ),
        (MilvusException(code=1100, message="the length (70000) exceeds max length"), False),
        (ParamError(message="invalid"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_connection_and_overload_errors_are_transient(exc, transient):
    assert is_transient(exc) is transient


def test_credentials_in_a_uri_are_never_shown():
    assert redact("https://user:pa55@db.example.com:19530/x") == "https://db.example.com:19530/x"
    assert redact("http://127.0.0.1:19530") == "http://127.0.0.1:19530"


def test_the_filter_copy_leaves_nulls_out_so_a_null_matches_no_filter():
    assert filter_copy({"a": None, "b": {"c": None, "d": 1}, "e": [None, 2]}) == {
        "b": {"d": 1},
        "e": [None, 2],
    }
