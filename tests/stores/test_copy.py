"""``harrier copy``: a collection moved between stores arrives exactly, once, and resumably."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import harrier
from fault_harness import SYNTHETIC_MODEL, assert_same_store, snapshot, synthetic_records
from harrier.stores import open_store

pytest.importorskip("qdrant_edge")


def fill(spec: str, docs: int, spans: int) -> list[harrier.SpanRecord]:
    store = open_store(spec, "docs")
    store.create_collection(SYNTHETIC_MODEL, 32)
    written = []
    for d in range(docs):
        batch = synthetic_records(f"doc-{d}", spans, seed=d, text=f"文本 {d} 🙂")
        store.upsert(batch)
        written += batch
    store.close()
    return written


def everything(spec: str) -> dict[str, harrier.SpanRecord]:
    store = open_store(spec, "docs")
    try:
        return {r.id: r for page in store.iter_records(100) for r in page}
    finally:
        store.close()


def test_edge_to_milvus_lite_and_local_mode_and_back_keeps_every_field(tmp_path):
    pytest.importorskip("harrier_milvus")
    edge = f"qdrant:{tmp_path / 'edge'}"
    written = {r.id: r for r in fill(edge, 12, 25)}
    hops = [
        (edge, f"milvus:{tmp_path / 'lite.db'}"),
        (f"milvus:{tmp_path / 'lite.db'}", f"qdrant-local:{tmp_path / 'local'}"),
        (f"qdrant-local:{tmp_path / 'local'}", f"qdrant:{tmp_path / 'back'}"),
    ]
    for source_spec, target_spec in hops:
        source, target = open_store(source_spec, "docs"), open_store(target_spec, "docs")
        report = harrier.copy_collection(source, target, batch_size=64)
        assert (report.spans, report.copied) == (300, 300)
        again = harrier.copy_collection(source, target, batch_size=64)
        assert (again.copied, again.already_there) == (0, 300)  # idempotent, writes nothing
        assert target.collection_model() == (SYNTHETIC_MODEL, 32)
        source.close()
        target.close()
        arrived = everything(target_spec)
        assert arrived.keys() == written.keys(), target_spec
        for rid, record in written.items():
            got = arrived[rid]
            assert (
                got.text,
                got.metadata,
                got.doc_id,
                got.span_index,
                got.span_count,
                got.doc_hash,
                got.model,
            ) == (
                record.text,
                record.metadata,
                record.doc_id,
                record.span_index,
                record.span_count,
                record.doc_hash,
                record.model,
            )
            np.testing.assert_allclose(got.vector, record.vector, atol=1e-6)


def test_copy_refuses_a_target_of_another_dimension_and_a_missing_source(tmp_path):
    fill(f"qdrant:{tmp_path / 'a'}", 1, 3)
    target = open_store(f"qdrant:{tmp_path / 'b'}", "docs")
    target.create_collection(SYNTHETIC_MODEL, 64)
    source = open_store(f"qdrant:{tmp_path / 'a'}", "docs")
    with pytest.raises(harrier.CollectionMismatchError, match="dimension 64"):
        harrier.copy_collection(source, target)
    assert target.count() == 0
    with pytest.raises(harrier.StoreError, match="does not exist"):
        harrier.copy_collection(open_store(f"qdrant:{tmp_path / 'c'}", "docs"), target)
    source.close()
    target.close()


def test_copy_updates_a_document_whose_target_version_is_older(tmp_path):
    source_spec, target_spec = f"qdrant:{tmp_path / 'a'}", f"qdrant:{tmp_path / 'b'}"
    fill(source_spec, 2, 4)
    target = open_store(target_spec, "docs")
    target.create_collection(SYNTHETIC_MODEL, 32)
    old = synthetic_records("doc-1", 7, seed=9)
    target.upsert([r.__class__(**{**r.__dict__, "doc_hash": "old"}) for r in old])
    source = open_store(source_spec, "docs")
    harrier.copy_collection(source, target)
    spans = target.fetch_spans("doc-1")
    assert [s.span_index for s in spans] == [0, 1, 2, 3] and {s.doc_hash for s in spans} == {
        "h-doc-1"
    }
    source.close()
    target.close()


VICTIM = """
import sys, harrier
from harrier.stores import open_store
source, target = open_store(sys.argv[1], "docs"), open_store(sys.argv[2], "docs")
upsert = target.upsert

def announced(records):
    upsert(records)
    print("wrote", flush=True)

target.upsert = announced
harrier.copy_collection(source, target, batch_size=50)
"""


def run_copy(source: str, target: str, kill_after: int | None) -> int:
    process = subprocess.Popen(
        [sys.executable, "-c", VICTIM, source, target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    writes = 0
    assert process.stdout is not None
    for line in process.stdout:
        writes += line.startswith("wrote")
        if writes == kill_after:
            os.kill(process.pid, signal.SIGKILL)
            break
    _, err = process.communicate(timeout=300)
    if kill_after is None:
        assert process.returncode == 0, err[-3000:]
    return writes


def test_killed_copies_then_a_full_copy_equal_one_clean_copy(tmp_path):
    source = f"qdrant:{tmp_path / 'source'}"
    fill(source, 30, 40)  # 1,200 spans: 24 writes of 50
    clean, victim = f"qdrant:{tmp_path / 'clean'}", f"qdrant:{tmp_path / 'victim'}"
    reader, writer = open_store(source, "docs"), open_store(clean, "docs")
    assert harrier.copy_collection(reader, writer, batch_size=50).copied == 1200
    reader.close()
    writer.close()
    counts = []
    for kill_after in (3, 9, 16):
        run_copy(source, victim, kill_after)
        counts.append(sum(len(v) for v in snapshot(victim).values()))
    assert any(0 < c < 1200 for c in counts), counts
    run_copy(source, victim, None)
    assert_same_store(snapshot(victim), snapshot(clean))


def test_copy_command_line(tmp_path, capsys):
    from harrier.cli import main

    source, target = f"qdrant:{tmp_path / 'a'}", f"qdrant:{tmp_path / 'b'}"
    fill(source, 3, 5)
    assert (
        main(
            [
                "copy",
                "--from",
                source,
                "--to",
                target,
                "--collection",
                "docs",
                "--quantization",
                "scalar",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["spans"], report["copied"]) == (15, 15)
    assert (
        json.loads((tmp_path / "b" / "docs" / "collection.json").read_text())["quantization"]
        == "scalar"
    )
    with pytest.raises(SystemExit):
        main(
            [
                "copy",
                "--from",
                source,
                "--to",
                f"milvus:{tmp_path / 'c.db'}",
                "--collection",
                "docs",
                "--quantization",
                "binary",
            ]
        )
    assert "Qdrant option" in capsys.readouterr().err
