"""Bad input at the edges: over-long queries, control characters, secrets kept out of output."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harrier
from harrier import SourceDocument
from harrier.sources._documents import Skipped, iter_source
from harrier.sources._validation import replace_surrogates, storage_problem
from harrier_qdrant import QdrantStore


def test_query_longer_than_the_limit_is_a_typed_error(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_tokens=64)
    index = harrier.Index(QdrantStore("q", path=tmp_path / "q"), engine)
    index.ingest([SourceDocument("a", "short text")])
    with pytest.raises(harrier.TextTooLongError, match="over the limit of 64"):
        index.search("word " * 200)
    index.close()


def test_a_lone_surrogate_is_a_typed_error_naming_the_text(tmp_path, qwen_path):
    """Undecodable bytes (a query typed in a Latin-1 terminal, a file name) reach Python as lone
    surrogates; the tokenizer's bare TypeError said nothing of which text or why."""
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    bad = ["fine", os.fsdecode(b"caf\xe9 au lait")]
    expected = r"text at index 1 is not valid Unicode: it holds a lone surrogate \(U\+DCE9\)"
    for call in (
        engine.embed_documents,
        engine.embed_queries,
        engine.count_tokens,
        harrier.Splitter(engine, max_tokens=64).split_many,
    ):
        with pytest.raises(harrier.InputError, match=expected):
            call(bad)
    index = harrier.Index(QdrantStore("s", path=tmp_path / "s"), engine)
    index.ingest([SourceDocument("a", "short text")])
    with pytest.raises(harrier.InputError, match="index 0 is not valid Unicode"):
        index.search(bad[1])
    index.close()


def test_an_empty_query_is_refused_not_answered(tmp_path, qwen_path):
    """An empty query's embedding is the instruction's alone: its nearest spans mean nothing."""
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    index = harrier.Index(QdrantStore("e", path=tmp_path / "e"), engine)
    index.ingest([SourceDocument("a", "short text")])
    assert [hit.doc_id for hit in index.search("short")] == ["a"]
    for query in ("", " \n\t"):
        for mode in ("hybrid", "dense", "sparse"):
            with pytest.raises(harrier.InputError, match="the query is empty"):
                index.search(query, mode=mode)
    for k in (0, -1):
        with pytest.raises(harrier.ConfigurationError, match=f"k={k} must be at least 1"):
            index.search("short", k=k)
    index.close()


def test_control_characters_are_kept_exactly(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    text = "bell\x07 null\x00 escape\x1b[31m tab\t cr\r form\x0c del\x7f zero-width\u200b end"
    store = QdrantStore("c", path=tmp_path / "c")
    harrier.ingest([SourceDocument("ctrl", text)], store, engine)
    assert "".join(r.text for r in store.fetch_spans("ctrl")) == text
    store.close()


def test_api_key_never_reaches_output(tmp_path, qwen_path):
    secret = "qd-secret-key-0123456789"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harrier.cli",
            "search",
            "q",
            "--collection",
            "c",
            "--store",
            "qdrant:http://127.0.0.1:9",
            "--model",
            str(qwen_path),
            "-v",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QDRANT_API_KEY": secret},
    )
    assert result.returncode == 1
    assert "cannot reach Qdrant at http://127.0.0.1:9" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_jsonl_lines_are_read_on_their_own(tmp_path):
    """An over-long line is skipped by its number without holding it, as are bad lines around
    good ones; content ids and the good records are those of the clean lines."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a", "text": "first"}\n'  # a BOM on the first line is allowed
        + b'{"id": "long", "text": "'
        + b"x" * 300_000
        + b'"}\n'
        + b'{"id": "b", "text": "caf\xc3\xa9"}\n'
        + b"\xff\xfe\n"
        + b'{"text": "no id", "metadata": {"deep": '
        + b"[" * 100_000
        + b"]}\n"
        + b'{"id": "c", "text": "last", "metadata": {"n": 1e999}}\n'
        + b'{"id": "d", "text": "no newline at the end"}'
    )
    items = list(iter_source(path, large_file_bytes=200_000))
    assert [(i.id, i.text) for i in items if isinstance(i, SourceDocument)] == [
        ("a", "first"),
        ("b", "café"),
        ("d", "no newline at the end"),
    ]
    assert {i.id: i.reason.partition(":")[0] for i in items if isinstance(i, Skipped)} == {
        "r.jsonl:2": "line longer than 200,000 bytes",
        "r.jsonl:4": "not valid UTF-8",
        "r.jsonl:5": "invalid JSON",
        "r.jsonl:6": "metadata holds NaN or Infinity, which JSON cannot hold",
    }


def test_file_names_that_are_not_utf8_are_skipped_by_name(tmp_path):
    root = os.fsencode(tmp_path)
    with open(os.path.join(root, b"caf\xe9.txt"), "wb") as stream:
        stream.write(b"latin-1 name")
    (tmp_path / "ok.txt").write_text("a good file")
    items = list(iter_source(tmp_path))
    assert [i.id for i in items if isinstance(i, SourceDocument)] == ["ok.txt"]
    (skip,) = [i for i in items if isinstance(i, Skipped)]
    assert skip.id == "caf\\udce9.txt" and "file name is not valid UTF-8" in skip.reason
    skip.id.encode("utf-8")  # loggable and writable to the skip log


def test_converter_surrogates_become_replacement_characters_in_place():
    text = "page one \ud835 and \udfff end"
    fixed, count = replace_surrogates(text)
    assert count == 2 and fixed == "page one \ufffd and \ufffd end" and len(fixed) == len(text)
    assert storage_problem("id", fixed, {}) is None
    assert storage_problem("id", text, {}) == (
        "text is not valid Unicode: a lone surrogate at character 9"
    )


VALID_RECORDS = (
    b'{"id": "a", "text": "first record", "metadata": {"n": 1, "tags": ["x", "y"]}}\n'
    b'{"text": "caf\xc3\xa9 \\ud83d\\ude00 emoji pair", "metadata": {"f": 0.5}}\n'
    b'{"id": 7, "text": "an integer id"}\n'
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID_RECORDS) - 1), st.binary(min_size=0, max_size=3)),
        max_size=6,
    )
)
def test_byte_mutations_of_records_never_raise_and_every_line_is_accounted_for(
    tmp_path_factory, edits
):
    data = bytearray(VALID_RECORDS)
    for position, replacement in edits:
        data[position : position + 1] = replacement
    path = tmp_path_factory.mktemp("fuzz") / "r.jsonl"
    path.write_bytes(bytes(data))
    items = list(iter_source(path))
    lines = [line for line in bytes(data).split(b"\n") if line.strip()]
    assert len(items) <= len(lines)
    for item in items:
        assert isinstance(item, (SourceDocument, Skipped))
        if isinstance(item, SourceDocument):  # what is read can be stored as it is
            assert storage_problem(item.id, item.text, item.metadata) is None
        else:
            item.id.encode("utf-8")
            assert re.fullmatch(r"r\.jsonl:\d+", item.id)
