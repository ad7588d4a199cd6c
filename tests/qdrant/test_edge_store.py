"""The embedded Qdrant Edge store: layout, locking, quantization and bad folders."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import harrier
from fault_harness import SYNTHETIC_MODEL
from fault_harness import synthetic_records as records
from harrier.stores import open_store

pytest.importorskip("qdrant_edge")
from harrier_qdrant import QdrantEdgeStore, QdrantStore

DIM = 32


def filled(path: Path, docs: int = 3, spans: int = 4) -> None:
    store = QdrantEdgeStore("docs", path=path)
    store.create_collection(SYNTHETIC_MODEL, DIM)
    for d in range(docs):
        store.upsert(records(f"doc-{d}", spans, seed=d))
    store.end_bulk_load()
    store.close()


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_qdrant_spec_opens_edge_with_the_server_payload_layout(tmp_path):
    store = open_store(f"qdrant:{tmp_path}", "docs")
    assert isinstance(store, QdrantEdgeStore)
    store.create_collection(SYNTHETIC_MODEL, DIM)
    written = records("a", 3)
    store.upsert(written)
    point = store.shard.retrieve([written[1].id], True, False)[0]
    assert set(point.payload) >= {"page_content", "metadata", "doc_id", "doc_hash"}
    assert point.payload["page_content"] == written[1].text
    assert set(store.shard.info().payload_schema) == {"doc_id", "doc_hash"}
    record = json.loads((tmp_path / "docs" / "collection.json").read_text())
    assert (record["model"], record["dimension"]) == ("m", DIM)
    store.close()
    assert isinstance(QdrantStore("docs", path=tmp_path), QdrantEdgeStore)


def test_search_before_and_after_the_index_equals_exact(tmp_path):
    store = QdrantEdgeStore("docs", path=tmp_path, sparse=False)  # counts dense vectors only
    store.indexing_threshold_kb = 100
    store.optimize_min_unindexed = 1000
    store.create_collection(SYNTHETIC_MODEL, DIM)
    stored = [r for d in range(30) for r in records(f"d{d}", 100, seed=d)]
    for start in range(0, len(stored), 256):
        store.upsert(stored[start : start + 256])
    matrix = np.stack([r.vector for r in stored])
    query = stored[7].vector + 0.1
    exact = [stored[i].id for i in np.argsort(-(matrix @ query))[:10]]
    assert [h.id for h in store.search_vector(query, 10)] == exact  # unindexed: a full scan
    store.end_bulk_load()  # builds HNSW
    assert store.shard.info().indexed_vectors_count == len(stored)
    store.upsert(records("small", 10, seed=99))  # too few to re-index: left to the scan
    store.end_bulk_load()
    assert store.shard.info().indexed_vectors_count == len(stored)
    assert store.search_vector(records("small", 10, seed=99)[4].vector, 1)[0].doc_id == "small"
    assert len(set(h.id for h in store.search_vector(query, 10)) & set(exact)) >= 9
    hits = store.search_vector(query, 5, filter={"i": 1})
    assert hits and all(h.metadata["i"] == 1 for h in hits)
    store.close()


@pytest.mark.parametrize("quantization", ["scalar", "binary"])
def test_quantized_collection_rescored_and_recorded(tmp_path, quantization):
    store = open_store(f"qdrant:{tmp_path}", "docs", quantization=quantization, sparse=False)
    store.indexing_threshold_kb = 100
    store.optimize_min_unindexed = 1000
    store.create_collection(SYNTHETIC_MODEL, DIM)
    stored = [r for d in range(30) for r in records(f"d{d}", 100, seed=d)]
    store.upsert(stored[:1500])
    store.upsert(stored[1500:])
    store.end_bulk_load()
    assert store.shard.info().indexed_vectors_count == len(stored)
    matrix = np.stack([r.vector for r in stored])
    query = stored[3].vector
    exact = np.sort(matrix @ query)[::-1][:5]
    scores = [h.score for h in store.search_vector(query, 5)]
    np.testing.assert_allclose(scores[0], exact[0], atol=1e-5)  # rescored on originals
    store.close()
    with pytest.raises(harrier.ConfigurationError, match="quantization"):
        QdrantEdgeStore(
            "docs", path=tmp_path, quantization="binary" if quantization == "scalar" else "scalar"
        )
    reopened = QdrantEdgeStore("docs", path=tmp_path)
    assert reopened.search_vector(query, 1)[0].id == stored[3].id
    reopened.close()


def test_a_second_process_is_refused_with_what_to_do(tmp_path):
    filled(tmp_path)
    holder = QdrantEdgeStore("docs", path=tmp_path)
    code = (
        "import sys; from harrier_qdrant import QdrantEdgeStore\n"
        "try:\n    QdrantEdgeStore('docs', path=sys.argv[1])\n"
        "except Exception as e:\n    print(type(e).__name__, e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.startswith("StoreUnavailableError") and "another process" in out.stdout
    assert holder.count() == 12
    holder.close()


def test_local_mode_folder_is_recognised_with_the_copy_command(tmp_path):
    local = QdrantStore("docs", path=tmp_path, local_mode=True)
    local.create_collection(SYNTHETIC_MODEL, DIM)
    local.upsert(records("a", 2))
    local.close()
    with pytest.raises(harrier.StoreError, match=r"harrier copy --from qdrant-local:") as err:
        open_store(f"qdrant:{tmp_path}", "docs")
    assert str(tmp_path) in str(err.value) and "docs" in str(err.value)
    filled(tmp_path / "edge")
    with pytest.raises(harrier.StoreError, match=f"--store qdrant:{tmp_path / 'edge'}"):
        open_store(f"qdrant-local:{tmp_path / 'edge'}", "docs")


def test_store_path_that_is_a_file(tmp_path):
    path = tmp_path / "store"
    path.write_text("not a folder")
    with pytest.raises(harrier.StoreUnavailableError, match=f"{path}.*is a file"):
        QdrantEdgeStore("docs", path=path)


def test_folder_written_by_something_else(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.bin").write_bytes(b"\0" * 10)
    store = QdrantEdgeStore("other", path=tmp_path)
    with pytest.raises(harrier.StoreDamagedError, match=f"{tmp_path / 'docs'}.*not written"):
        QdrantEdgeStore("docs", path=tmp_path)
    store.close()
    assert (tmp_path / "docs" / "data.bin").read_bytes() == b"\0" * 10


@pytest.mark.parametrize("damage", ["truncated segment", "garbage config", "record file"])
def test_damaged_shard_is_a_typed_error_and_is_left_as_it_was(tmp_path, damage):
    filled(tmp_path)
    shard = tmp_path / "docs" / "shard"
    if damage == "truncated segment":
        victim = next(shard.glob("segments/*/version.info"))
        victim.write_bytes(victim.read_bytes()[:2])
    elif damage == "garbage config":
        victim = shard / "edge_config.json"
        victim.write_bytes(b"\x00garbage")
    else:
        victim = tmp_path / "docs" / "collection.json"
        victim.write_text('{"format": "harrier-qdrant-edge/1", "mod')
    before = digests(tmp_path)
    with pytest.raises(harrier.StoreDamagedError) as err:
        QdrantEdgeStore("docs", path=tmp_path)
    assert str(tmp_path / "docs") in str(err.value) and "new collection" in str(err.value)
    assert digests(tmp_path) == before  # nothing rewritten, nothing removed


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(exist_ok=True)
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture
def tmpfs(tmp_path):
    mount = tmp_path / "disk"
    if not _mount_tmpfs(mount, "256m"):  # a new collection's preallocated files take ~180 MB
        pytest.skip("needs root and tmpfs mounts to make a small or read-only disk")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


FILL = """
import sys, harrier
from fault_harness import SYNTHETIC_MODEL
from fault_harness import synthetic_records as records
from harrier_qdrant import QdrantEdgeStore
store = QdrantEdgeStore("docs", path=sys.argv[1])
store.create_collection(SYNTHETIC_MODEL, 32)
written = 0
try:
    for d in range(100_000):
        store.upsert(records(f"doc-{d}", 20, seed=d, text="x" * 4000))
        written += 20
except harrier.StoreWriteError as exc:
    print(written, exc)
store.close()
"""


def test_full_disk_stops_with_a_typed_error_and_keeps_what_was_stored(tmpfs):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", FILL, str(tmpfs)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]  # not killed by the engine's mmap writes
    written, message = out.stdout.split(" ", 1)
    assert int(written) > 0 and str(tmpfs) in message and "free some space" in message
    subprocess.run(["mount", "-o", "remount,size=512m", str(tmpfs)], check=True)
    store = QdrantEdgeStore("docs", path=tmpfs)
    assert store.count() == int(written)
    assert store.fetch_spans("doc-0")[5].text == records("doc-0", 20, text="x" * 4000)[5].text
    store.close()


@pytest.fixture
def read_only(tmp_path):
    """A folder made read-only: by permissions, or (as root, whom they do not stop) a mount."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        filled(folder)
        modes = [(p, p.stat().st_mode) for p in [folder, *folder.rglob("*")]]
        for path, mode in modes:
            path.chmod(mode & ~0o222)
        yield folder
        for path, mode in modes:
            path.chmod(mode)
        return
    folder = tmp_path / "ro"
    if not _mount_tmpfs(folder, "256m"):
        pytest.skip("running as root, where only a read-only mount stops writes; none allowed")
    filled(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_read_only_store_is_a_typed_error_and_loses_nothing(read_only):
    before = digests(read_only)
    with pytest.raises(harrier.StoreUnavailableError, match="not writable") as err:
        QdrantEdgeStore("docs", path=read_only)
    assert str(read_only) in str(err.value)
    assert digests(read_only) == before


def test_quick_start_commands_land_in_the_edge_store(tmp_path, monkeypatch, qwen_path, capsys):
    from harrier.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "reset.md").write_text("To reset your password, open settings.\n")
    assert main(["ingest", "corpus", "--collection", "demo", "--model", str(qwen_path)]) == 0
    assert (
        main(
            [
                "search",
                "how do I reset my password",
                "--collection",
                "demo",
                "--model",
                str(qwen_path),
                "--json",
            ]
        )
        == 0
    )
    hit = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert hit["doc_id"] == "reset.md"
    record = json.loads((tmp_path / ".harrier/qdrant/demo/collection.json").read_text())
    assert record["model"] == str(qwen_path)
    assert (tmp_path / ".harrier/qdrant/demo/shard/wal").is_dir()
