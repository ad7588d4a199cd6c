"""Faults on a real Milvus server: killed runs, two runs at once, a server that stops answering."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import harrier
from fault_harness import (
    assert_same_store,
    kill_repeatedly,
    run_victim,
    snapshot,
    write_corpus,
)
from harrier_milvus import MilvusStore

pytestmark = pytest.mark.server


@pytest.fixture
def server_spec(milvus_server, monkeypatch):
    monkeypatch.setenv("MILVUS_TOKEN", milvus_server.token)
    collections: list[str] = []
    yield f"milvus:{milvus_server.uri}", collections
    store = MilvusStore("cleanup", url=milvus_server.uri, token=milvus_server.token)
    for name in collections:
        if store.client.has_collection(name):
            store.client.drop_collection(name)
    store.close()


def _names(collections: list[str], *prefixes: str) -> list[str]:
    names = [f"{p}_{uuid.uuid4().hex[:10]}" for p in prefixes]
    collections.extend(names)
    return names


@pytest.mark.slow  # 90 s; the same kills on the embedded stores run by default (test_kill.py)
def test_killed_runs_then_a_full_run_equal_one_clean_run(server_spec, tmp_path, qwen_path):
    spec, collections = server_spec
    clean_name, victim_name = _names(collections, "clean", "victim")
    write_corpus(tmp_path)
    env = {"MILVUS_TOKEN": os.environ["MILVUS_TOKEN"], "HARRIER_VICTIM_SPARSE": "0"}
    writes = run_victim(tmp_path, spec, qwen_path, None, env, clean_name)
    clean = snapshot(spec, clean_name)
    counts = kill_repeatedly(tmp_path, spec, qwen_path, writes, env=env, collection=victim_name)
    run_victim(tmp_path, spec, qwen_path, None, env, victim_name)
    assert_same_store(snapshot(spec, victim_name), clean)
    total = sum(len(v) for v in clean.values())
    assert any(0 < c < total for c in counts), counts


def test_two_runs_at_once_store_one_copy(server_spec, tmp_path, qwen_path):
    spec, collections = server_spec
    clean_name, shared_name = _names(collections, "clean", "shared")
    write_corpus(tmp_path)
    env = {"MILVUS_TOKEN": os.environ["MILVUS_TOKEN"], "HARRIER_VICTIM_SPARSE": "0"}
    run_victim(tmp_path, spec, qwen_path, None, env, clean_name)
    store = MilvusStore(
        shared_name, url=spec.split(":", 1)[1], token=env["MILVUS_TOKEN"], sparse=False
    )
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store.ensure_collection(engine.identity, engine.dimension)  # as the CLI would, first
    store.close()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda _: run_victim(tmp_path, spec, qwen_path, None, env, shared_name), range(2)
            )
        )
    assert_same_store(snapshot(spec, shared_name), snapshot(spec, clean_name))


def test_server_that_goes_away_fails_clearly_then_resumes(
    server_spec, milvus_server, tmp_path, qwen_engine
):
    """The server is reached through a TCP proxy that is shut mid-run (every connection cut,
    new ones refused) and opened again later: a server restart as the client sees it."""
    spec, collections = server_spec
    clean_name, victim_name = _names(collections, "clean", "victim")
    write_corpus(tmp_path)
    url, token = milvus_server.uri, milvus_server.token
    clean = MilvusStore(clean_name, url=url, token=token, sparse=False)
    harrier.ingest(tmp_path, clean, qwen_engine, max_tokens=48, group_documents=3)
    clean.close()

    host, port = url.rsplit("//", 1)[1].split(":")
    with TcpProxy(host, int(port)) as proxy:
        proxied = f"http://127.0.0.1:{proxy.port}"
        victim = MilvusStore(victim_name, url=proxied, token=token, timeout=3.0, sparse=False)
        upsert = victim.upsert
        writes = []

        def upsert_then_cut(records):
            upsert(records)
            writes.append(len(records))
            if len(writes) == 2:
                proxy.shut()  # the server goes away mid-run

        victim.upsert = upsert_then_cut  # type: ignore[method-assign]
        started = time.monotonic()
        with pytest.raises(harrier.StoreError) as info:
            harrier.ingest(tmp_path, victim, qwen_engine, max_tokens=48, group_documents=3)
        assert time.monotonic() - started < 120  # bounded retries, not a hang
        assert "failed after 5 attempts" in str(info.value)
        assert "run the same command again" in str(info.value)
        assert token not in str(info.value)
        victim.close()

        proxy.open()  # the server is back
        resumed = MilvusStore(victim_name, url=proxied, token=token)
        report = harrier.ingest(tmp_path, resumed, qwen_engine, max_tokens=48, group_documents=3)
        resumed.close()
    assert report.unchanged > 0  # what was written before the cut is kept
    assert_same_store(snapshot(spec, victim_name), snapshot(spec, clean_name))


def test_each_store_has_its_own_connection(server_spec, milvus_server):
    """pymilvus shares one cached connection per address unless asked not to: a store opened
    after a server restart would then inherit an earlier store's dead channel."""
    url, token = milvus_server.uri, milvus_server.token
    first = MilvusStore("conn_a", url=url, token=token)
    second = MilvusStore("conn_b", url=url, token=token)
    assert first.client._handler is not second.client._handler
    # and its own gRPC subchannel (no backoff inherited from another channel), backoff capped
    assert first.client._handler._grpc_options["grpc.use_local_subchannel_pool"] == 1
    assert first.client._handler._grpc_options["grpc.max_reconnect_backoff_ms"] <= 5000
    first.close()
    assert second.collection_model() is None  # the other store's connection is still open
    second.close()


class TcpProxy:
    """Forwards a local port to ``host:port``; ``shut`` cuts every connection and refuses new
    ones until ``open``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()  # a connection accepted while shutting is cut too

    def __enter__(self) -> TcpProxy:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shut()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def shut(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(OSError):  # wakes the accepting thread (Linux)
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                if self._listener is not listener:  # shut meanwhile: cut this one too
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
