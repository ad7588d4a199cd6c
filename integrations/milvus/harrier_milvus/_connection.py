"""Opening Milvus (Lite or a server), classifying its errors, and keeping its logs quiet.

pymilvus logs an ERROR with a traceback for every failed call, even one the caller catches.
Inside ``quiet()`` the records of pymilvus and milvus_lite are dropped: the connector handles
or re-raises every failure itself, with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import grpc

from harrier.stores import ConfigurationError, StoreDamagedError, StoreError, StoreUnavailableError
from harrier.stores.paths import disk_problem, folder_error, prepare_store_folder

try:
    from pymilvus import MilvusClient, MilvusException
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("harrier_milvus needs pymilvus: pip install 'harrier-suite[milvus]'") from exc

DEFAULT_PATH = Path(".harrier") / "milvus.db"
"""Where the embedded Milvus Lite store lives unless told otherwise."""

LITE_STORE = "embedded Milvus Lite store"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_LITE = {"store": LITE_STORE, "spec": "milvus:PATH"}
_QUIET: ContextVar[bool] = ContextVar("harrier_milvus_quiet", default=False)
_TRANSIENT_CODES = {2, 4, 8, 11, 503}  # unavailable, request limit, rate limit, time tick lag,
# and 503: a server still recovering (e.g. "channel not available" after a stall)
_TRANSIENT_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_REFUSED_GRPC = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
GRPC_OPTIONS = {"grpc.use_local_subchannel_pool": 1, "grpc.max_reconnect_backoff_ms": 4000}
"""gRPC channel options of a server store. By default gRPC shares one subchannel (the TCP
connection and its reconnect backoff, which grows to 120 s) among all channels to an address,
so a store opened after a server restart waited out the backoff of another, still open
channel (measured: 1.2 s after 25 s of refusals, against 0.15 s with its own pool) and could
fail "Fail connecting to server"; a long-running store waited up to 120 s to reconnect, past
its retries. Each store gets its own subchannel, and backoff is capped at 4 s."""
_lite_users: Counter[str] = Counter()
_lite_lock = threading.Lock()


class _QuietFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Lite's in-process server logs each failed call in its own threads, beside the error
        # it returns to the client (which the connector handles)
        return not _QUIET.get() and not record.name.startswith("milvus_lite.adapter.grpc")


_QUIET_FILTER = _QuietFilter()


def _install_filter() -> None:
    """Filter every pymilvus and milvus_lite logger, where their records are made."""
    with contextlib.suppress(ImportError):
        import milvus_lite.server_manager  # noqa: F401 - creates its logger
    names = [
        name
        for name in logging.root.manager.loggerDict
        if name.split(".")[0] in ("pymilvus", "milvus_lite")
    ]
    for name in {"pymilvus", "milvus_lite", *names}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietFilter) for f in logger.filters):
            logger.addFilter(_QUIET_FILTER)


_install_filter()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Drop pymilvus' and milvus_lite's log records made in this context."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def grpc_codes(exc: BaseException) -> set[grpc.StatusCode]:
    """The gRPC status codes along an exception's chain (pymilvus chains errors to themselves)."""
    codes: set[grpc.StatusCode] = set()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, grpc.RpcError) and hasattr(current, "code"):
            codes.add(current.code())
        code = getattr(current, "code", None)
        if isinstance(code, grpc.StatusCode):
            codes.add(code)
        current = current.__cause__ or current.__context__
    return codes


def is_transient(exc: BaseException) -> bool:
    """Connection loss, an unavailable or overloaded server: worth retrying. Nothing else."""
    codes = grpc_codes(exc)
    if codes & _REFUSED_GRPC:
        return False
    if codes & _TRANSIENT_GRPC or isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, MilvusException):
        return exc.retriable or exc.code in _TRANSIENT_CODES
    return False


def redact(uri: str) -> str:
    """``uri`` without a user:password part."""
    parts = urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def check_name(collection: str) -> None:
    """Milvus' rule for collection names (a server enforces it; Lite does not)."""
    if not isinstance(collection, str) or not _NAME.fullmatch(collection):
        raise ConfigurationError(
            f"collection name {collection!r} is not a Milvus collection name; use letters, "
            "digits and '_' (not starting with a digit), at most 255 characters"
        )


def open_lite(path: str | Path | None, timeout: float) -> tuple[MilvusClient, Path]:
    """A client on the Milvus Lite file ``path`` (``X.db``, or a folder to hold ``milvus.db``)."""
    db = Path(path) if path is not None else DEFAULT_PATH
    if db.suffix != ".db":
        db = db / "milvus.db"
    db = db.absolute()
    prepare_store_folder(db.parent, store=LITE_STORE, spec="milvus:PATH")
    if db.exists() and not db.is_dir():
        raise StoreDamagedError(
            f"{db} is a file, not a Milvus Lite store (Milvus Lite {_lite_version()} keeps a "
            "store in a folder of that name); pass another path (--store milvus:PATH.db)"
        )
    if db.is_dir() and not os.access(db, os.W_OK):
        raise folder_error(PermissionError(13, "permission denied"), db, **_LITE)
    with _lite_lock, quiet():
        try:
            client = MilvusClient(uri=str(db), timeout=timeout)
        except MilvusException as exc:
            raise StoreUnavailableError(
                f"cannot open the embedded Milvus Lite store {db} ({exc.message}). Milvus Lite "
                "lets one process use a file at a time: wait for the other one, or use a Milvus "
                "server (--store milvus:http://HOST:19530)"
            ) from None
        except OSError as exc:
            raise folder_error(exc, db, **_LITE) from None
        _install_filter()  # on the loggers its server made meanwhile
        _lite_users[str(db)] += 1
    return client, db


def lite_disk_error(exc: BaseException, db: Path) -> StoreError | None:
    """The typed error for a Milvus Lite failure caused by its folder (full, read-only), which
    the in-process server reports as an error message holding the ``OSError``."""
    reason = OSError(exc.message if isinstance(exc, MilvusException) else str(exc))
    if disk_problem(reason) is not None:
        return folder_error(reason, db, **_LITE)
    leftover = re.search(r"File exists: '([^']*/collections/[^']*)'", str(exc))
    if leftover:  # a creation that failed (disk full) left its folder: Lite cannot reuse it
        return StoreDamagedError(
            f"{leftover.group(1)} is left from a collection whose creation failed (a full "
            "disk?); it holds no data: remove that folder and run the same command again"
        )
    return None


def _lite_version() -> str:
    from importlib.metadata import version

    return version("milvus-lite")


def release_lite(db: Path) -> None:
    """Stop the in-process Lite server of ``db`` when its last harrier store closes."""
    with _lite_lock:
        _lite_users[str(db)] -= 1
        if _lite_users[str(db)] > 0:
            return
        del _lite_users[str(db)]
    from milvus_lite.server_manager import server_manager_instance

    with quiet():
        server_manager_instance.release_server(str(db))


def open_server(url: str, token: str | None, timeout: float) -> MilvusClient:
    """A client on the server at ``url``; the token (or ``MILVUS_TOKEN``) is never shown."""
    secret = token if token is not None else os.environ.get("MILVUS_TOKEN", "")
    where = redact(url)
    with quiet():
        try:  # dedicated: pymilvus would share one cached connection per address, so a store
            # opened after a server restart could get the dead channel of an earlier one
            return MilvusClient(
                uri=url, token=secret, timeout=timeout, dedicated=True, grpc_options=GRPC_OPTIONS
            )
        except Exception as exc:
            codes = grpc_codes(exc)
            kind = type(exc).__name__
    if codes & _REFUSED_GRPC:
        raise StoreUnavailableError(
            f"Milvus at {where} refused the credentials; check the token in MILVUS_TOKEN "
            "(user:password, or an API key)"
        )
    reason = ", ".join(sorted(code.name for code in codes)) or kind
    raise StoreUnavailableError(
        f"cannot reach Milvus at {where} ({reason}); check the URI (the gRPC port, 19530 by "
        "default) and that the server is running"
    )


def is_lite(client: MilvusClient) -> bool:
    """Whether ``client`` talks to Milvus Lite (FLAT index only)."""
    with quiet():
        try:
            return "milvus_lite" in str(client.get_server_version())
        except Exception:
            return False
