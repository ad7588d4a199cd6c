"""Walking a folder like the tools developers know: ``.gitignore`` files (nested ones too),
no caches, dependencies, virtual environments or VCS data, glob filters, symlinks on request."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", ".git", ".hg", ".svn"})
"""Folders never walked (besides hidden ones, virtual environments and ignored ones)."""

STORE_LAYOUTS = {
    "Milvus Lite": ("LOCK", "collections", "databases"),
    "Qdrant Edge": ("collection.json", "shard/edge_config.json"),
    "qdrant-client local": ("meta.json", "collection"),
}
"""The files that mark an embedded vector store's data folder, which is never read as documents
(a store placed inside the folder it ingests would otherwise ingest itself)."""


@dataclass(frozen=True)
class FolderFilter:
    """Which files of a folder are read. ``include`` / ``exclude``: ``.gitignore``-style
    patterns relative to the folder (``*.pdf`` matches at any depth, ``docs/*.md`` from the
    top); a file is read when it matches an include pattern (if any) and no exclude pattern."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    follow_symlinks: bool = False
    gitignore: bool = True


def walk_folder(root: Path, where: FolderFilter) -> Iterator[tuple[Path, str | None]]:
    """``(path, None)`` for each file to read, in sorted order, and ``(path, reason)`` for a
    symbolic link that is not followed, a vector store's data folder (:data:`STORE_LAYOUTS`)
    or an Office owner file (``~$report.docx``, beside a document open in Word).
    Hidden files and folders are skipped, as are the :data:`SKIPPED_FOLDERS`, folders holding a
    ``pyvenv.cfg`` and git-ignored paths."""
    include = _spec(where.include) if where.include else None
    exclude = _spec(where.exclude)
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Path, list[tuple[str, Any]]]] = [(root, [])]
    while stack:
        folder, ignores = stack.pop()
        try:
            info = folder.stat()
        except OSError:  # gone since it was listed
            continue
        if (info.st_dev, info.st_ino) in visited:  # a symlink loop, or a folder seen twice
            continue
        visited.add((info.st_dev, info.st_ino))
        rel_folder = "" if folder == root else folder.relative_to(root).as_posix()
        if where.gitignore and (folder / ".gitignore").is_file():
            ignores = [*ignores, (rel_folder, _spec(_read_lines(folder / ".gitignore")))]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}".lstrip("/")
            is_dir = _is_dir(entry)
            if (
                entry.name.startswith(".")
                or _ignored(rel, is_dir, ignores)
                or (exclude.match_file(rel + "/" * is_dir))
            ):
                continue
            if entry.is_symlink() and not where.follow_symlinks:
                yield Path(entry.path), "symbolic link: not followed (follow_symlinks=True)"
            elif entry.name.startswith("~$") and not is_dir:
                yield Path(entry.path), _OWNER_FILE
            elif is_dir:
                path = Path(entry.path)
                if store := _store_data(path):
                    yield path, f"{store} store data: not read as documents"
                elif entry.name not in SKIPPED_FOLDERS and not (path / "pyvenv.cfg").exists():
                    subfolders.append((path, ignores))
            elif include is None or include.match_file(rel):
                yield Path(entry.path), None
        stack.extend(reversed(subfolders))


_OWNER_FILE = "Office owner file: ~$ files mark a document open in Office, not a document"


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """A folder, or a link to one; False for a link that loops or leads nowhere (read, it is
    skipped with its reason)."""
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _store_data(folder: Path) -> str | None:
    for store, marks in STORE_LAYOUTS.items():
        if all((folder / mark).exists() for mark in marks):
            return store
    return None


def _spec(patterns: Sequence[str]) -> Any:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _ignored(rel: str, is_dir: bool, ignores: list[tuple[str, Any]]) -> bool:
    """Git's rule: the deepest ``.gitignore`` with a matching pattern decides (``!`` negates)."""
    ignored = False
    for base, spec in ignores:
        result = spec.check_file((rel[len(base) + 1 :] if base else rel) + "/" * is_dir)
        if result.include is not None:
            ignored = result.include
    return ignored
