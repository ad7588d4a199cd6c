"""Bad input at the edges: over-long queries, control characters, secrets kept out of output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import harrier
from harrier import SourceDocument
from harrier_qdrant import QdrantStore


def test_query_longer_than_the_limit_is_a_typed_error(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_tokens=64)
    index = harrier.Index(QdrantStore("q", path=tmp_path / "q"), engine)
    index.ingest([SourceDocument("a", "short text")])
    with pytest.raises(harrier.TextTooLongError, match="over the limit of 64"):
        index.search("word " * 200)
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
