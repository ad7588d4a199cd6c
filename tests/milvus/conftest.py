"""Real Milvus servers for the ``server`` tests.

- ``standalone``: the Milvus 2.3.5 standalone server bundled in the ``milvus`` PyPI package,
  started once per session on loopback with authentication on (so a wrong token is refused),
  and stopped by its process id. Skipped, with the reason, when the package is not installed.
- ``docker``: a current server image through testcontainers, where a Docker engine exists.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import harrier
from harrier_milvus import MilvusStore

logger = logging.getLogger("harrier.tests")

DEFAULT_PORT = 19530
ROOT_TOKEN = "root:Milvus"  # Milvus' default root user and password


@dataclass(frozen=True)
class MilvusServer:
    """Where a test server listens and how to log in."""

    name: str
    uri: str
    token: str
    authentication: bool
    bm25: bool = False
    """Whether the server has the BM25 function (Milvus >= 2.5)."""


@pytest.fixture(scope="session", params=["standalone", "docker"])
def milvus_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MilvusServer]:
    if request.param == "standalone":
        yield from _standalone(tmp_path_factory.mktemp("milvus-server"))
    else:
        yield from _docker()


def _standalone(base: Path) -> Iterator[MilvusServer]:
    try:
        from milvus import default_server
    except ImportError as exc:
        pytest.skip(
            f"the 'milvus' package (a bundled Milvus 2.3.5 server) is not installed "
            f"({exc}); pip install milvus==2.3.5 to run these tests"
        )
    default_server.set_base_dir(str(base))
    default_server.config.set("authorization_enabled", True)
    if _in_use(DEFAULT_PORT):  # another Milvus, or anything else: take a free port instead
        default_server.listen_port = _free_port()
        logger.warning(
            "port %d is in use; the test server listens on %d",
            DEFAULT_PORT,
            default_server.listen_port,
        )
    _embedded_etcd_on_free_ports(default_server.config, base)
    default_server.wait_for_started = False  # its own wait ignores a crashed process
    try:
        default_server.start()  # picks free ports for its other services (health, coordinators)
        _wait_healthy(default_server, base)
        yield MilvusServer(
            "standalone 2.3.5", f"http://127.0.0.1:{default_server.listen_port}", ROOT_TOKEN, True
        )
    finally:
        _stop(default_server)


def _embedded_etcd_on_free_ports(config: Any, base: Path) -> None:
    """Its embedded etcd binds 2379 and 2380 unless told otherwise: a second server would fail."""
    peer, client = _free_port(), _free_port()
    etcd = base / "etcd.yaml"
    etcd.write_text(
        f"name: harrier-tests\nlisten-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"listen-client-urls: http://127.0.0.1:{client}\n"
        f"advertise-client-urls: http://127.0.0.1:{client}\n"
        f"initial-cluster: harrier-tests=http://127.0.0.1:{peer}\n",
        encoding="utf-8",
    )
    config.template_text = re.sub(  # etcd.config.path, which the template does not expose
        r"(?m)^(    embed: true.*)$",
        lambda m: f"{m.group(1)}\n  config:\n    path: {etcd}",
        config.template_text,
        count=1,
    )


def _wait_healthy(server: Any, base: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{server.webservice_port}/healthz"
    while time.monotonic() < deadline:
        if server.server_proc.poll() is not None:
            pytest.fail(f"the bundled Milvus server exited at start; see {base / 'logs'}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if b"OK" in response.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the bundled Milvus server was not healthy after {timeout:.0f} s; see {base / 'logs'}"
    )


def _stop(server: Any) -> None:
    """Stop the server process by its id: SIGTERM, then SIGKILL if it lingers.

    Milvus 2.3.5 often hangs in its graceful stop once it holds data; the data is disposable.
    """
    process: subprocess.Popen[bytes] | None = getattr(server, "server_proc", None)
    if process is not None:
        if process.poll() is None:  # it may have died at start: then there is nothing to kill
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        server.server_proc = None
    server.stop()  # closes its log files; the process is gone


def _docker() -> Iterator[MilvusServer]:
    docker_errors = pytest.importorskip("docker.errors")
    module = pytest.importorskip("testcontainers.community.milvus")
    try:
        container = module.MilvusContainer()
    except docker_errors.DockerException as exc:
        pytest.skip(f"no Docker engine to run a current Milvus server: {exc}")
    with container:
        yield MilvusServer(
            "docker latest", container.get_connection_url(), ROOT_TOKEN, False, bm25=True
        )


def _in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def qwen_engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def pymilvus_records() -> Iterator[list[logging.LogRecord]]:
    """What pymilvus and milvus_lite would print: the records reaching their own handlers."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("pymilvus", "milvus_lite")]
    for each in loggers:
        each.addHandler(handler)
    yield handler.records
    for each in loggers:
        each.removeHandler(handler)


@pytest.fixture
def open_server_store(milvus_server: MilvusServer) -> Iterator[Callable[..., MilvusStore]]:
    """Opens stores on fresh collections of the server; drops them and closes after."""
    opened: list[MilvusStore] = []

    def open_store(collection: str | None = None) -> MilvusStore:
        name = collection or f"t_{uuid.uuid4().hex[:12]}"
        store = MilvusStore(
            name, url=milvus_server.uri, token=milvus_server.token, sparse=milvus_server.bm25
        )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        if store.client.has_collection(store.collection):
            store.client.drop_collection(store.collection)
        store.close()
