"""Two runs at once on one embedded Qdrant Edge store: one at a time, never a mixed store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import harrier
from fault_harness import assert_same_store, snapshot, write_corpus

pytest.importorskip("qdrant_edge")
from harrier_qdrant import QdrantEdgeStore


def _run(folder, path, engine) -> str:
    """One run, as the CLI makes it; the refusal's message when the store is taken."""
    try:
        with harrier.Index(QdrantEdgeStore("docs", path=path), engine) as index:
            index.ingest(folder, max_tokens=48)
    except harrier.StoreUnavailableError as exc:
        return str(exc)
    return "done"


def test_two_runs_at_once_leave_one_clean_copy(tmp_path, qwen_engine):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_corpus(folder)
    assert _run(folder, tmp_path / "clean", qwen_engine) == "done"
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: _run(folder, tmp_path / "shared", qwen_engine),
                                 range(2)))
    assert "done" in outcomes
    assert all(o == "done" or "open in another process" in o for o in outcomes), outcomes
    assert_same_store(snapshot(f"qdrant:{tmp_path / 'shared'}"),
                      snapshot(f"qdrant:{tmp_path / 'clean'}"))
