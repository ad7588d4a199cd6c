"""Store paths and names as the user meets them (``harrier ingest --store KIND:PATH``): a path
that is a file, a read-only folder, a full disk or a bad collection name is exit status 1 and
one line that says what to do, on every embedded store; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

KINDS = ["qdrant", "qdrant-local", "milvus"]


def _ingest(source: Path, spec: str, model: Path, collection: str = "docs") -> str:
    """Run the CLI; return its one error line after checking exit 1 and no traceback."""
    command = [sys.executable, "-m", "harrier.cli", "ingest", str(source), "--collection"]
    command += [collection, "--store", spec, "--model", str(model), "--max-tokens", "48"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, (out.returncode, out.stderr[-3000:])
    lines = [line for line in out.stderr.splitlines() if line.startswith("harrier: error:")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-3000:]
    return lines[0]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.txt").write_text("rivers carry water from the hills to the sea\n")
    return folder


def _mount(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root and tmpfs mounts to make a read-only or full disk")
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mount -t tmpfs refused: cannot make a read-only or full disk")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "ro"
    _mount(where, "8m")
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "full"
    _mount(where, "8m")
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (2**20, 4096):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_path_that_is_a_file(kind: str, tmp_path: Path, source: Path, qwen_path: Path):
    path = tmp_path / ("store.db" if kind == "milvus" else "store")
    path.write_text("not a store")
    message = _ingest(source, f"{kind}:{path}", qwen_path)
    assert str(path) in message and "is a file" in message and "pass" in message
    assert path.read_text() == "not a store"
    plain = tmp_path / "plain"  # a file where a folder to hold the store was meant
    plain.write_text("x")
    assert "is a file" in _ingest(source, f"{kind}:{plain}", qwen_path)


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_only_folder(kind: str, read_only: Path, source: Path, qwen_path: Path):
    message = _ingest(source, f"{kind}:{read_only}", qwen_path)
    assert str(read_only) in message and "not writable" in message, message
    assert "one process" not in message


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_disk(kind: str, full: Path, source: Path, qwen_path: Path):
    for _ in range(2):  # the second run meets what the first one left
        message = _ingest(source, f"{kind}:{full}", qwen_path)
        assert str(full) in message, message
        assert "does not exist" not in message and "one process" not in message
        assert "full" in message or "not enough disk space" in message or "left from" in message


@pytest.mark.parametrize("kind", KINDS)
def test_a_collection_name_with_a_trailing_newline(
    kind: str, tmp_path: Path, source: Path, qwen_path: Path
):
    message = _ingest(source, f"{kind}:{tmp_path / 'store'}", qwen_path, collection="abc\n")
    assert "'abc\\n'" in message and "collection name" in message
    assert not list((tmp_path / "store").rglob("abc*"))
