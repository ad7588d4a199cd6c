"""Disk space for a Qdrant Edge shard, counted as the engine uses it, so a full disk is an error.

The engine writes through memory-mapped files that it creates at full length but sparse: a new
collection is ~146 MB of files holding ~84 KB (two 32 MiB write-ahead log segments, 32 MiB
pages for payloads and BM25 vectors, flag and map files), and its first write adds a 32 MiB
vector chunk (measured with qdrant-edge 0.9.0). A store of N spans of dimension 640 with
~1.5 KB of text holds about 7.7 KB per span (WAL 4.8 KB, vectors 2.5 KB, payload). Writing to
a page of such a hole when the file system has no block left kills the process with SIGBUS;
no error is raised. Loading a shard writes too (the log is replayed into the segments).

So before each engine operation that writes (opening, upserting, deleting, flushing) the shard's
holes are counted. Where the disk has room for every hole plus the operation plus
``HEADROOM``, the engine goes ahead. Otherwise the holes are allocated now
(``posix_fallocate``: the engine then writes only into blocks it already has, whoever else fills
the disk) and the operation still needs room for its own growth; where either fails the
operation is refused with ``StoreWriteError``, before the engine touches anything.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harrier.stores import StoreWriteError

logger = logging.getLogger("harrier")

HEADROOM = 2**30
"""Free space beyond every hole under which holes are allocated: another process would have to
write this much during one engine operation (tens of milliseconds) to fill the disk under it."""
MIN_FREE = 2 * 2**20
"""Left free after a write, for the engine's small regular files (id tracker, configs)."""
NEW_SHARD_BYTES = 192 * 2**20
"""Files of a new collection up to its first write (~178 MB measured, with BM25 vectors)."""
PAGE_FILE_BYTES = 32 * 2**20
"""The engine's large files (log segments, vector chunks, pages) have this length; a flush
writes only into smaller ones (trackers, flags): its dirty pages in large ones have blocks."""
BYTES_PER_RECORD_BYTE = 4
"""Engine bytes touched per byte of ``SpanRecord.approx_bytes`` (measured ~1.9: WAL + vectors
+ payload), with a margin of two."""


@dataclass(frozen=True)
class Usage:
    """The files under one folder: their length, and the bytes they occupy on disk."""

    apparent: int
    allocated: int

    @property
    def holes(self) -> int:
        """Bytes the engine may still write into its existing files without growing them."""
        return max(0, self.apparent - self.allocated)


def usage(folder: Path, below: int | None = None) -> Usage:
    """Of the files under ``folder`` (only those shorter than ``below``, if given)."""
    apparent = allocated = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                stat = os.stat(os.path.join(parent, name))
            except OSError:  # the engine removed it meanwhile
                continue
            if below is not None and stat.st_size >= below:
                continue
            apparent += stat.st_size
            allocated += stat.st_blocks * 512
    return Usage(apparent, allocated)


def free_bytes(path: Path) -> int:
    """Bytes free to this user on the file system holding ``path`` (or its nearest parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def allocate_holes(folder: Path, below: int | None = None) -> None:
    """Give every file under ``folder`` (shorter than ``below``, if given) all of its blocks
    (``OSError`` ENOSPC when the disk is full). File lengths and contents are unchanged."""
    for parent, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                stat = os.fstat(fd)
                if below is not None and stat.st_size >= below:
                    continue
                if stat.st_blocks * 512 < stat.st_size:
                    os.posix_fallocate(fd, 0, stat.st_size)
            finally:
                os.close(fd)


def ensure_space(
    shard: Path, what: str, growth: int, keep_free: int = MIN_FREE, flush: bool = False
) -> int | None:
    """Make sure the engine can do ``what`` (writing about ``growth`` new bytes) in the shard
    folder ``shard`` without touching a page the disk cannot back; else ``StoreWriteError``.
    ``flush``: the operation only flushes (and closes), see ``PAGE_FILE_BYTES``. Returns the
    bytes of holes where the disk had room for them all, None where they were allocated."""
    below = PAGE_FILE_BYTES if flush else None
    current = usage(shard, below)
    free = free_bytes(shard)
    if free >= current.holes + growth + HEADROOM:
        return current.holes
    if current.holes:
        logger.debug("allocating %d bytes of holes in %s before %s", current.holes, shard, what)
        try:
            allocate_holes(shard, below)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise _refusal(shard, what, current.holes + growth + keep_free, free) from None
        free = free_bytes(shard)
    if free < growth + keep_free:
        raise _refusal(shard, what, growth + keep_free, free)
    return None


class SpaceGuard:
    """``ensure_space`` before each of a run of writes to one shard, at the cost of a ``statvfs``:
    the shard's files are walked again only every ``WALK_EVERY`` writes while the disk has room
    for every hole. Until then the holes are bounded by the last walk plus two new
    engine files per write (the engine adds one now and then: a log segment, a vector chunk)."""

    WALK_EVERY = 8

    def __init__(self, shard: Path) -> None:
        self.shard = shard
        self._holes: int | None = None  # at the last walk; None: walk before the next write
        self._writes = 0  # since that walk

    def before(self, what: str, growth: int) -> None:
        if self._holes is not None and self._writes < self.WALK_EVERY:
            bound = self._holes + (self._writes + 1) * 2 * PAGE_FILE_BYTES
            if free_bytes(self.shard) >= bound + growth + HEADROOM:
                self._writes += 1
                return
        self._holes = ensure_space(self.shard, what, growth)
        self._writes = 0


def ensure_new_shard_space(folder: Path) -> None:
    """Refuse to create a collection in ``folder`` where its files would not fit."""
    free = free_bytes(folder)
    if free < NEW_SHARD_BYTES + MIN_FREE:
        raise _refusal(folder, "creating the collection", NEW_SHARD_BYTES + MIN_FREE, free)


def _refusal(where: Path, what: str, needed: int, free: int) -> StoreWriteError:
    return StoreWriteError(
        f"not enough disk space for {what} in {where}: the Qdrant Edge engine needs "
        f"{_mb(needed)} free there (its files are preallocated), {_mb(free)} is free; free some "
        "space (or pass another --store qdrant:PATH) and run the same command again: nothing "
        "already stored was lost and finished documents are skipped"
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"
