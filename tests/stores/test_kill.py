"""SIGKILL the ingestion at random points, re-run it: the store ends as one clean run leaves it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harrier._store_spec import open_store

VICTIM = """
import sys, harrier
from harrier._store_spec import open_store
folder, spec, model = sys.argv[1:4]
engine = harrier.Embedder.from_pretrained(model, device="cpu")
store = open_store(spec, "docs")
upsert = store.upsert

def announced_upsert(records):
    upsert(records)
    print("wrote", len(records), flush=True)  # the test kills after a chosen write

store.upsert = announced_upsert
report = harrier.ingest(folder, store, engine, max_tokens=48, group_documents=3)
store.close()
print(report.spans_written)
"""


def _corpus(folder: Path) -> None:
    rng = random.Random(7)
    words = "rivers carry water from hills to the sea 机器 学习 énergie 🙂".split()
    for i in range(36):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 120)))
        (folder / f"doc-{i:02d}.txt").write_text(text + "\n", encoding="utf-8")


def _run(folder: Path, spec: str, model: Path, kill_after_writes: int | None) -> int:
    """Run the victim; SIGKILL it right after its n-th write. Returns the writes it reported."""
    process = subprocess.Popen([sys.executable, "-c", VICTIM, str(folder), spec, str(model)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writes = 0
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("wrote"):
            writes += 1
            if writes == kill_after_writes:
                os.kill(process.pid, signal.SIGKILL)
                break
    _, err = process.communicate(timeout=600)
    if kill_after_writes is None:
        assert process.returncode == 0, err[-3000:]
    return writes


def _snapshot(spec: str) -> dict[str, list[tuple]]:
    store = open_store(spec, "docs")
    try:
        doc_ids = sorted(store.iter_doc_ids())
        count = store.count()
        snapshot = {d: [(r.id, r.span_index, r.span_count, r.text, r.doc_hash, r.vector)
                        for r in store.fetch_spans(d)] for d in doc_ids}
    finally:
        store.close()
    assert sum(len(v) for v in snapshot.values()) == count
    return snapshot


@pytest.mark.parametrize("kind", ["qdrant", "milvus"])
def test_killed_runs_then_a_full_run_equal_one_clean_run(kind, tmp_path, qwen_path):
    if kind == "milvus":
        pytest.importorskip("harrier_milvus")
    folder = tmp_path / "corpus"
    folder.mkdir()
    _corpus(folder)
    suffix = ".db" if kind == "milvus" else ""
    clean_spec = f"{kind}:{tmp_path / ('clean' + suffix)}"
    victim_spec = f"{kind}:{tmp_path / ('victim' + suffix)}"
    writes = _run(folder, clean_spec, qwen_path, None)
    clean = _snapshot(clean_spec)
    assert writes >= 6

    rng = random.Random(11)
    partial_counts = []
    for _ in range(3):
        _run(folder, victim_spec, qwen_path, kill_after_writes=rng.randint(1, writes // 2))
        try:
            partial_counts.append(sum(len(v) for v in _snapshot(victim_spec).values()))
        except Exception:  # killed before the collection existed
            partial_counts.append(0)
    _run(folder, victim_spec, qwen_path, None)
    victim = _snapshot(victim_spec)

    assert sorted(victim) == sorted(clean)
    for doc_id, spans in clean.items():
        theirs = victim[doc_id]
        assert [s[:5] for s in theirs] == [s[:5] for s in spans], doc_id
        for ours, reference in zip(theirs, spans, strict=True):
            np.testing.assert_allclose(ours[5], reference[5], atol=1e-6)
    total = sum(len(v) for v in clean.values())
    print(json.dumps({"clean_spans": total, "after_kills": partial_counts}))
    assert any(0 < c < total for c in partial_counts), "no kill landed mid-run"
