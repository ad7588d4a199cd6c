"""Shared by the fault tests: a victim ingestion process to kill, and store snapshots."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from harrier import ModelIdentity, SpanRecord
from harrier.stores.registry import open_store
from span_records import span_record

WORDS = "rivers carry water from hills to the sea 机器 学习 énergie 🙂".split()

VICTIM = """
import os, sys, harrier
from harrier import ModelIdentity, SpanRecord, span_id
from harrier.stores.registry import open_store
folder, spec, model, collection = sys.argv[1:5]
engine = harrier.Embedder.from_pretrained(model, device="cpu")
store = open_store(spec, collection, sparse=os.environ.get("HARRIER_VICTIM_SPARSE") != "0")
upsert = store.upsert

def announced_upsert(records):
    upsert(records)
    print("wrote", len(records), flush=True)  # the test kills after a chosen write

store.upsert = announced_upsert
report = harrier.ingest(folder, store, engine, max_tokens=48, group_documents=3)
store.close()
print(report.spans_written)
"""


SYNTHETIC_MODEL = ModelIdentity("m", "f" * 64)


def synthetic_records(
    doc_id: str, n: int, seed: int = 0, text: str = "t" * 500, dim: int = 32
) -> list[SpanRecord]:
    """``n`` spans of one document with random unit vectors (no model needed)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        span_record(
            doc_id,
            f"{text} {i}",
            vectors[i],
            index=i,
            count=n,
            end=1,
            doc_hash=f"h-{doc_id}",
            metadata={"i": i % 3},
        )
        for i in range(n)
    ]


def write_corpus(folder: Path) -> None:
    rng = random.Random(7)
    words = WORDS
    for i in range(36):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 120)))
        (folder / f"doc-{i:02d}.txt").write_text(text + "\n", encoding="utf-8")


def run_victim(
    folder: Path,
    spec: str,
    model: Path,
    kill_after_writes: int | None,
    env: dict[str, str] | None = None,
    collection: str = "docs",
) -> int:
    """Run the victim; SIGKILL it right after its n-th write. Returns the writes it reported."""
    command = [sys.executable, "-c", VICTIM, str(folder), spec, str(model), collection]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
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


def snapshot(spec: str, collection: str = "docs") -> dict[str, list[tuple]]:
    store = open_store(spec, collection)
    try:
        doc_ids = sorted(store.iter_doc_ids())
        count = store.count()
        snapshot = {
            d: [
                (r.id, r.span_index, r.span_count, r.text, r.doc_hash, r.vector)
                for r in store.fetch_spans(d)
            ]
            for d in doc_ids
        }
    finally:
        store.close()
    assert sum(len(v) for v in snapshot.values()) == count
    return snapshot


def sparse_snapshot(spec: str, collection: str = "docs", scores: bool = True) -> dict[str, list]:
    """The BM25 arm's ranking, (span id, score), for each corpus word: equal rankings and
    scores mean equal BM25 vectors and corpus statistics. ``scores=False``: the spans found."""
    store = open_store(spec, collection)
    try:
        hits = {word: store.search_sparse(word, 200) for word in WORDS}
        if not scores:
            return {word: sorted(h.id for h in found) for word, found in hits.items()}
        return {
            word: sorted(
                ((h.id, round(h.score, 4)) for h in found),  # ties in id order
                key=lambda hit: (-hit[1], hit[0]),
            )
            for word, found in hits.items()
        }
    finally:
        store.close()


def assert_same_store(victim: dict[str, list[tuple]], clean: dict[str, list[tuple]]) -> None:
    """Same documents, span ids, indices, counts, texts and hashes; vectors equal."""
    assert sorted(victim) == sorted(clean)
    for doc_id, spans in clean.items():
        theirs = victim[doc_id]
        assert [s[:5] for s in theirs] == [s[:5] for s in spans], doc_id
        for ours, reference in zip(theirs, spans, strict=True):
            np.testing.assert_allclose(ours[5], reference[5], atol=1e-6)


def kill_repeatedly(
    folder: Path,
    spec: str,
    model: Path,
    writes: int,
    times: int = 3,
    env: dict[str, str] | None = None,
    collection: str = "docs",
    seed: int = 11,
) -> list[int]:
    """SIGKILL ``times`` runs after a random write each; the spans stored after each kill."""
    rng = random.Random(seed)
    counts = []
    for _ in range(times):
        run_victim(folder, spec, model, rng.randint(1, max(1, writes // 2)), env, collection)
        try:
            counts.append(sum(len(v) for v in snapshot(spec, collection).values()))
        except Exception:  # killed before the collection existed
            counts.append(0)
    return counts
