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
        outcomes = list(
            pool.map(lambda _: _run(folder, tmp_path / "shared", qwen_engine), range(2))
        )
    assert "done" in outcomes
    assert all(o == "done" or "open in another process" in o for o in outcomes), outcomes
    assert_same_store(
        snapshot(f"qdrant:{tmp_path / 'shared'}"), snapshot(f"qdrant:{tmp_path / 'clean'}")
    )


def test_a_store_opened_before_the_collection_existed_opens_it_once_made(tmp_path, qwen_engine):
    """Two writers construct their store before either creates the collection (the race the
    concurrent test can hit): the second is refused while the first holds the shard, then
    works on the collection the first made."""
    first = QdrantEdgeStore("docs", path=tmp_path)
    second = QdrantEdgeStore("docs", path=tmp_path)
    doc = harrier.SourceDocument("a", "Rivers carry water to the sea.")
    harrier.ingest([doc], first, qwen_engine)
    with pytest.raises(harrier.StoreUnavailableError, match="open in another process"):
        harrier.ingest([doc], second, qwen_engine)
    first.close()
    report = harrier.ingest([doc], second, qwen_engine)
    assert (report.unchanged, second.count()) == (1, 1)
    second.close()
