"""The pipeline on a real Qdrant server, through testcontainers where a Docker engine exists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import harrier
from harrier import SourceDocument

pytestmark = pytest.mark.server


API_KEY = "right-key-for-tests"


@pytest.fixture(scope="module")
def qdrant_url() -> Iterator[str]:
    docker_errors = pytest.importorskip("docker.errors")
    qdrant_module = pytest.importorskip("testcontainers.community.qdrant")
    try:
        container = qdrant_module.QdrantContainer(api_key=API_KEY)
    except docker_errors.DockerException as exc:
        pytest.skip(f"no Docker engine to run a Qdrant server: {exc}")
    with container:
        yield f"http://{container.get_container_host_ip()}:{container.exposed_rest_port}"


def test_server_ingest_rerun_and_shrink(qdrant_url, qwen_path, monkeypatch):
    from harrier_qdrant import QdrantStore

    monkeypatch.setenv("QDRANT_API_KEY", API_KEY)
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    store = QdrantStore("server-docs", url=qdrant_url)
    docs = [SourceDocument("a", "word " * 200), SourceDocument("b", "other " * 10)]
    first = harrier.ingest(docs, store, engine, max_tokens=32)
    assert harrier.ingest(docs, store, engine, max_tokens=32).spans_written == 0
    shrunk = harrier.ingest([SourceDocument("a", "word " * 20)], store, engine, max_tokens=32)
    assert store.count() == first.spans_written - shrunk.spans_deleted
    info = store.client.get_collection("server-docs")
    assert "doc_id" in (info.payload_schema or {})
    assert info.config.optimizer_config.indexing_threshold != 0  # restored after the load
    store.close()


def test_wrong_api_key_fails_fast_without_leaking_it(qdrant_url, monkeypatch, caplog):
    from harrier_qdrant import QdrantStore

    secret = "sk-harrier-test-secret-123"
    monkeypatch.setenv("QDRANT_API_KEY", secret)
    with caplog.at_level("DEBUG"), pytest.raises(harrier.StoreUnavailableError) as info:
        QdrantStore("x", url=qdrant_url)
    assert "API key" in str(info.value)
    assert secret not in str(info.value) and secret not in caplog.text


def test_unreachable_url_fails_fast():
    from harrier_qdrant import QdrantStore

    with pytest.raises(harrier.StoreUnavailableError, match="cannot reach Qdrant"):
        QdrantStore("x", url="http://127.0.0.1:9", timeout=5)
