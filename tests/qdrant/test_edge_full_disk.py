"""Qdrant Edge on a real small or filling disk (tmpfs): a typed error and exit status 1, never a
signal, and everything written before survives (checked after remounting the disk larger).

Each scenario runs ``harrier ingest`` (and the reads) in subprocesses, as a user meets them: a
write into a memory-mapped page that the disk cannot back kills the process with SIGBUS."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

WORDS = "rivers carry water from hills to the sea while the wind moves clouds".split()


def _mount(where: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    return subprocess.run(mount, capture_output=True).returncode == 0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 MiB tmpfs: room for one collection (~180 MB of preallocated engine files)."""
    where = tmp_path / "disk"
    if not _mount(where, "256m"):
        pytest.skip("needs root and tmpfs mounts to make a small disk (mount -t tmpfs refused)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def _remount(where: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)


def _corpus(folder: Path, docs: int, words: int, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(docs):
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        (folder / f"doc-{seed}-{i:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def _ingest(source: Path, store: Path, model: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harrier.cli", "ingest", str(source), "--collection"]
    command += ["docs", "--store", f"qdrant:{store}", "--model", str(model), "--max-tokens", "48"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _refused(out: subprocess.CompletedProcess[str], folder: Path) -> str:
    """The one-line message of an ingest refused for disk space (exit 1, no traceback)."""
    assert out.returncode == 1, (out.returncode, out.stderr[-3000:])  # negative: a signal
    lines = [line for line in out.stderr.splitlines() if line.startswith("harrier: error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert str(folder) in lines[0] and "MB free" in lines[0], lines[0]
    return lines[0]


def _snapshot(store: Path) -> dict[str, str]:
    """Every record (id, text, vector, span fields) of the collection, read in a subprocess."""
    code = """
import hashlib, json, sys
import numpy as np
import harrier
from harrier_qdrant import QdrantEdgeStore
try:
    store = QdrantEdgeStore("docs", path=sys.argv[1])
    out = {}
    for page in store.iter_records():
        for r in page:
            vector = np.asarray(r.vector, dtype=np.float32).tobytes()
            key = f"{r.text}|{r.doc_id}|{r.span_index}|{r.start}|{r.end}".encode()
            out[r.id] = hashlib.sha256(key + vector).hexdigest()
    store.search_vector(np.ones(len(vector) // 4, dtype=np.float32), 3)
    store.close()
    print(json.dumps(out))
except harrier.StoreError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    sys.exit(1)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, str(store)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), (out.returncode, out.stderr[-3000:])  # never a signal
    result: dict[str, str] = json.loads(out.stdout)
    return result


def _fill(disk: Path) -> Path:
    """Write zeros into ``disk`` until it is full (a megabyte, then a page at a time)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (2**20, 4096):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_small_disk_is_refused_before_anything_is_written(tmp_path: Path, qwen_path: Path):
    """24 MiB cannot hold a collection's preallocated files: refused at once, exit 1."""
    where = tmp_path / "small"
    if not _mount(where, "24m"):
        pytest.skip("needs root and tmpfs mounts to make a small disk (mount -t tmpfs refused)")
    try:
        source = _corpus(tmp_path / "src", 10, 200, seed=1)
        started = time.perf_counter()
        out = _ingest(source, where / "store", qwen_path)
        elapsed = time.perf_counter() - started
        message = _refused(out, where / "store")
        assert "creating the collection" in message
        assert not (where / "store" / "docs").exists()  # nothing half-made
        print(f"refused in {elapsed:.1f} s (process start and model load included)")
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_full_disk_still_reads_and_refuses_writes(disk: Path, tmp_path: Path, qwen_path: Path):
    store = disk / "store"
    assert _ingest(_corpus(tmp_path / "a", 10, 200, seed=2), store, qwen_path).returncode == 0
    before = _snapshot(store)
    assert len(before) > 10
    _fill(disk)
    full = _snapshot(store)  # opening replays the log and saves the engine's config: it may
    if full != before:  # need a few blocks; then a typed error that says how much, no signal
        assert full["error"] == "StoreWriteError" and str(store) in full["message"], full
        assert "MB free" in full["message"], full
    out = _ingest(_corpus(tmp_path / "b", 5, 200, seed=3), store, qwen_path)
    _refused(out, store / "docs" / "shard")
    _remount(disk, "512m")
    assert _snapshot(store) == before  # nothing lost


def _fill_when_writing(disk: Path, shard: Path, stop: threading.Event) -> None:
    """Fill the disk once the ingest has written (its vector chunk has all its blocks)."""
    while not stop.is_set():
        chunks = list(shard.glob("segments/*/vector_storage/vectors/chunk_0.mmap"))
        if chunks and chunks[0].stat().st_blocks * 512 >= chunks[0].stat().st_size:
            _fill(disk)
            return
        time.sleep(0.005)


def _filling_run(disk: Path, tmp_path: Path, qwen_path: Path, against_reference: bool) -> None:
    """Ingest, then ingest more while the disk fills: refused cleanly, nothing lost; with
    ``against_reference``, the resumed store equals a clean run on a roomy disk."""
    store = disk / "store"
    first = _corpus(tmp_path / "a", 10, 200, seed=4)
    assert _ingest(first, store, qwen_path).returncode == 0
    before = _snapshot(store)
    second = _corpus(tmp_path / "b", 150, 60, seed=5)
    stop = threading.Event()
    filler = threading.Thread(target=_fill_when_writing, args=(disk, store / "docs/shard", stop))
    filler.start()
    try:
        out = _ingest(second, store, qwen_path)
    finally:
        stop.set()
        filler.join()
    _refused(out, store / "docs" / "shard")
    _remount(disk, "1g")
    after = _snapshot(store)
    assert {k: after[k] for k in before} == before  # what was written before is intact
    if not against_reference:
        return
    (disk / "filler").unlink()
    assert _ingest(second, store, qwen_path).returncode == 0  # resumes once there is room
    reference = tmp_path / "reference"
    for source in (first, second):
        assert _ingest(source, reference, qwen_path).returncode == 0
    assert _snapshot(store) == _snapshot(reference)


def test_a_disk_filling_during_the_run_stops_it_cleanly(
    disk: Path, tmp_path: Path, qwen_path: Path
):
    _filling_run(disk, tmp_path, qwen_path, against_reference=False)


@pytest.mark.slow
@pytest.mark.parametrize("run", range(5))
def test_a_disk_filling_during_the_run_five_times(
    disk: Path, tmp_path: Path, qwen_path: Path, run: int
):
    _filling_run(disk, tmp_path, qwen_path, against_reference=True)
