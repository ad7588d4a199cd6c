"""The folder of an embedded store (Qdrant Edge, qdrant-client's local mode, Milvus Lite): what
is wrong with it, said the same way for every store.

A path that is a file, a folder this process cannot write, and a full disk are the user's to
fix; each gets the typed error that says how, instead of the ``OSError`` of whichever library
met it first.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from harrier._errors import StoreError, StoreUnavailableError, StoreWriteError

_FULL = ("os error 28", "errno 28", "no space left", "disk is full", "disk quota exceeded")
_READ_ONLY = (
    "os error 13",
    "os error 30",
    "errno 13",
    "errno 30",
    "permission denied",
    "read-only file system",
)


def prepare_store_folder(folder: Path, *, store: str, spec: str) -> None:
    """Make ``folder`` (the store ``store``, given as ``--store spec``) if missing; refuse a file
    and a folder that cannot be written with ``StoreUnavailableError``."""
    if folder.exists() and not folder.is_dir():
        raise StoreUnavailableError(
            f"the {store} path {folder} is a file, not a folder; pass a folder (--store {spec}): "
            "an empty one, or one that holds such a store"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder_error(exc, folder, store=store, spec=spec) from None
    if not os.access(folder, os.W_OK):
        read_only = os.statvfs(folder).f_flag & os.ST_RDONLY
        reason = "read-only file system" if read_only else "permission denied"
        raise _not_writable(folder, store, spec, reason)


def folder_error(exc: BaseException, folder: Path, *, store: str, spec: str) -> StoreError:
    """The typed error for an ``OSError`` (or an error message) met in the store's folder:
    full disk, read-only or not permitted; anything else ``StoreUnavailableError``."""
    kind = disk_problem(exc)
    if kind == "full":
        return StoreWriteError(
            f"the disk holding the {store} {folder} is full ({_reason(exc)}); free some space "
            "and run the same command again: nothing already stored was lost"
        )
    if kind == "read-only":
        return _not_writable(folder, store, spec, _reason(exc))
    return StoreUnavailableError(
        f"cannot use the {store} folder {folder} ({_reason(exc)}); pass another folder "
        f"(--store {spec})"
    )


def disk_problem(exc: BaseException | str) -> str | None:
    """``"full"`` or ``"read-only"`` where an error (its errno, or its message, as the Rust
    engine and sqlite report them) says so; else None."""
    number = getattr(exc, "errno", None)
    if number in (errno.ENOSPC, errno.EDQUOT):
        return "full"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "read-only"
    message = str(exc).lower()
    if any(s in message for s in _FULL):
        return "full"
    if any(s in message for s in _READ_ONLY):
        return "read-only"
    return None


def _not_writable(folder: Path, store: str, spec: str, reason: str) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the {store} folder {folder} is not writable ({reason}); make it writable, or copy the "
        f"store to a writable folder and pass that (--store {spec})"
    )


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
