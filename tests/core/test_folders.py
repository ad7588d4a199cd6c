"""Folder walking: .gitignore files as git reads them (git itself is the reference), default
skipped folders, include/exclude globs, symbolic links and loops."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

import harrier
from document_files import write_docx
from harrier.ingestion._run import SourceCount, count_source
from harrier.sources._folders import FolderFilter, walk_folder


def files_of(root: Path, where: FolderFilter | None = None) -> list[str]:
    return [
        p.relative_to(root).as_posix()
        for p, reason in walk_folder(root, where or FolderFilter())
        if reason is None
    ]


def make(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name, encoding="utf-8")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git as the reference")
def test_gitignore_files_are_read_like_git(tmp_path):
    make(
        tmp_path,
        "a.md",
        "debug.log",
        "keep.log",
        "build/out.txt",
        "src/main.py",
        "src/cache.tmp",
        "src/gen/x.py",
        "src/gen/keep.py",
        "docs/build/page.md",
        "docs/notes.txt",
    )
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\n/build/\n*.tmp\n")
    (tmp_path / "src" / ".gitignore").write_text("gen/*\n!gen/keep.py\n")
    (tmp_path / "docs" / ".gitignore").write_text("*.txt\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = sorted(line for line in listed.splitlines() if not line.endswith(".gitignore"))
    assert sorted(files_of(tmp_path)) == expected
    assert "docs/build/page.md" in expected and "src/gen/keep.py" in expected


def test_caches_dependencies_environments_and_vcs_are_skipped(tmp_path):
    make(
        tmp_path,
        "app.py",
        "__pycache__/app.cpython-311.pyc",
        "web/node_modules/x/index.js",
        "venv/pyvenv.cfg",
        "venv/lib/site.py",
        "env2/pyvenv.cfg",
        ".git/HEAD",
        ".hg/x",
        "sub/.svn/y",
        "sub/z.md",
    )
    assert files_of(tmp_path) == ["app.py", "sub/z.md"]


def test_office_owner_files_are_skipped_with_their_reason(tmp_path):
    """Word writes ``~$name.docx`` (162 bytes, not a document) beside a document it has open;
    on a shared folder it is seen by everyone."""
    from harrier.sources._documents import Skipped, iter_source

    write_docx(tmp_path / "report.docx")
    (tmp_path / "~$report.docx").write_bytes(b"\x05Alice" + bytes(156))
    (tmp_path / "~$folder").mkdir()  # only files are owner files
    make(tmp_path, "~$folder/notes.md")
    items = {item.id: item for item in iter_source(tmp_path)}
    assert sorted(items) == ["report.docx", "~$folder/notes.md", "~$report.docx"]
    owner = items["~$report.docx"]
    assert isinstance(owner, Skipped) and owner.reason.startswith("Office owner file: ~$ files")


def test_include_and_exclude_globs(tmp_path):
    make(tmp_path, "a.pdf", "b.md", "docs/c.pdf", "docs/drafts/d.pdf", "e.txt")
    assert files_of(tmp_path, FolderFilter(include=["*.pdf"])) == [
        "a.pdf",
        "docs/c.pdf",
        "docs/drafts/d.pdf",
    ]
    assert files_of(tmp_path, FolderFilter(include=["*.pdf"], exclude=["drafts/"])) == [
        "a.pdf",
        "docs/c.pdf",
    ]
    assert files_of(tmp_path, FolderFilter(exclude=["/docs", "*.txt"])) == ["a.pdf", "b.md"]


def test_symlinks_are_not_followed_unless_asked_and_never_loop(tmp_path):
    root = tmp_path / "root"
    make(root, "real/a.md")
    (root / "link.md").symlink_to(root / "real" / "a.md")
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    walked = list(walk_folder(root, FolderFilter()))
    assert [(p.relative_to(root).as_posix(), r is None) for p, r in walked] == [
        ("link.md", False),
        ("real/a.md", True),
        ("real/loop", False),
    ]
    followed = files_of(root, FolderFilter(follow_symlinks=True))
    assert followed == ["link.md", "real/a.md"]  # the loop back to the root is not re-walked


def test_a_link_that_loops_or_leads_nowhere_is_a_skip_not_a_crash(tmp_path, qwen_path):
    """``ln -s loop loop`` made the walk raise ``OSError`` (too many levels of symbolic links)
    and stop the whole run."""
    from harrier_qdrant import QdrantStore

    root = tmp_path / "root"
    make(root, "a.md")
    (root / "loop").symlink_to(root / "loop")
    (root / "nowhere").symlink_to(tmp_path / "missing")
    walked = list(walk_folder(root, FolderFilter()))
    assert [(p.name, r) for p, r in walked] == [
        ("a.md", None),
        ("loop", "symbolic link: not followed (follow_symlinks=True)"),
        ("nowhere", "symbolic link: not followed (follow_symlinks=True)"),
    ]
    followed = FolderFilter(follow_symlinks=True)
    assert files_of(root, followed) == ["a.md", "loop", "nowhere"]
    count = SourceCount()
    count_source(root, followed, count)  # the plan counts them: the run skips them
    assert count.documents == 3 and count.sizes == {"a.md": 4, "loop": 0, "nowhere": 0}
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store = QdrantStore("links", path=tmp_path / "edge")
    report = harrier.ingest(root, store, engine, follow_symlinks=True, quiet=True)
    store.close()
    assert report.documents == 1
    assert {r: g["count"] for r, g in report.skips.items()} == {"cannot read": 2}


@pytest.mark.parametrize("kind", ["milvus", "qdrant", "qdrant-local"])
def test_a_store_inside_the_folder_it_ingests_is_not_ingested(tmp_path, qwen_path, kind, caplog):
    """The store is made by ingesting the folder it lives in; the second run (which now sees
    the store's files) finds the same documents, changes nothing and names the store's folder.
    The first run's progress never counts more items than it found (its first pass walked the
    folder before the store's files were there)."""
    import harrier
    from harrier_milvus import MilvusStore
    from harrier_qdrant import QdrantStore

    make(tmp_path, "a.txt", "notes/b.md")
    where = {"milvus": "z.db", "qdrant": "edge", "qdrant-local": "local"}[kind]
    store = {
        "milvus": lambda: MilvusStore("c", path=tmp_path / where),
        "qdrant": lambda: QdrantStore("c", path=tmp_path / where),
        "qdrant-local": lambda: QdrantStore("c", path=tmp_path / where, local_mode=True),
    }[kind]()
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    with harrier.Index(store, engine) as index:
        caplog.set_level(logging.INFO, logger="harrier.progress")
        first = index.ingest(tmp_path, show_progress=False)
        done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ingest: ")]
        second = index.ingest(tmp_path, prune=True)
    assert first.documents == second.documents == second.unchanged == 2
    assert second.spans_written == second.documents_pruned == 0
    assert [s.split(": ")[0] for s in second.skip_reasons] == [
        ("z.db" if kind == "milvus" else "local" if kind == "qdrant-local" else "edge/c")
    ]
    assert second.skip_reasons[0].endswith(" store data")
    handled = first.documents + first.skipped
    assert done[-1].startswith(f"ingest: done, {handled}/{handled} documents")


def test_zero_max_tokens_is_refused_not_defaulted(tmp_path, qwen_path):
    import harrier
    from harrier_qdrant import QdrantStore

    make(tmp_path / "docs", "a.txt")
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    with harrier.Index(QdrantStore("c", path=tmp_path / "store"), engine) as index:
        with pytest.raises(harrier.ConfigurationError, match="max_tokens=0"):
            index.ingest(tmp_path / "docs", max_tokens=0)
        with pytest.raises(harrier.ConfigurationError, match="max_tokens=0"):
            harrier.ingest(tmp_path / "docs", index.store, engine, max_tokens=0)
        assert index.store.collection_properties() is None  # refused before anything
