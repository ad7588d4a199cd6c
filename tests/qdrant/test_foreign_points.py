"""Points that another writer added to a harrier collection (LangChain's ``add_texts``: text and
metadata, no harrier span fields) come back as hits from every search mode and from
``harrier search``; whole-record reads (``iter_records``, copy, the skip check) leave them
out. Never a KeyError."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import harrier
from harrier import SourceDocument
from harrier_qdrant import QdrantStore

langchain_qdrant = pytest.importorskip("langchain_qdrant")
from langchain_core.embeddings import Embeddings  # noqa: E402


class _EngineEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over the engine, so both writers share one vector space."""

    def __init__(self, engine: harrier.Embedder) -> None:
        self.engine = engine

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.engine.embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.engine.embed_queries([text])[0]]


FOREIGN = ["rivers carry water to the sea", "a note added by LangChain about hills"]


def _shared_collection(folder: Path, engine: harrier.Embedder) -> list[str]:
    """Ingest harrier spans, then add LangChain points to the same collection; their ids."""
    store = QdrantStore("shared", path=folder, local_mode=True)
    with harrier.Index(store, engine) as index:
        index.ingest([SourceDocument(f"d{i}", f"document {i} about rivers", {}) for i in range(3)])
        vectorstore = langchain_qdrant.QdrantVectorStore(
            client=store.client, collection_name="shared", embedding=_EngineEmbeddings(engine)
        )
        ids = vectorstore.add_texts(FOREIGN, metadatas=[{"source": "lc"}, {"source": "lc"}])
    return [str(uuid.UUID(i)) for i in ids]  # as Qdrant returns them


def test_index_search_returns_foreign_points(tmp_path, qwen_path, caplog):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    ids = _shared_collection(tmp_path / "q", engine)
    store = QdrantStore("shared", path=tmp_path / "q", local_mode=True)
    with harrier.Index(store, engine) as index:
        for mode in ("dense", "sparse", "hybrid"):
            hits = index.search("rivers carry water", k=10, mode=mode)
            foreign = [h for h in hits if h.id in ids]
            if mode != "sparse":  # LangChain's dense mode adds no BM25 vectors to its points
                assert {h.text for h in foreign} == set(FOREIGN), mode  # found, text intact
            for hit in foreign:
                assert hit.metadata == {"source": "lc"}
                assert (hit.doc_id, hit.span_index, hit.start, hit.end) == (None,) * 4
            assert all(h.doc_id is not None for h in hits if h.id not in ids)
        with caplog.at_level(logging.DEBUG, logger="harrier"):
            records = [r for page in store.iter_records() for r in page]
        assert sorted(r.doc_id for r in records) == ["d0", "d1", "d2"]  # the spans, nothing else
        assert "not a harrier span" in caplog.text
        assert [r.doc_id for r in store.fetch_spans("d1")] == ["d1"]
        # the skip check and the prune listing read only harrier's spans
        report = index.ingest(
            [SourceDocument(f"d{i}", f"document {i} about rivers", {}) for i in range(3)],
            prune=True,
        )
        assert report.unchanged == 3 and report.documents_pruned == 0
        assert store.count() == 3 + len(FOREIGN)  # LangChain's points were left alone


def test_harrier_search_and_copy_with_foreign_points(tmp_path, qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    ids = _shared_collection(tmp_path / "q", engine)
    command = [sys.executable, "-m", "harrier.cli"]
    local = f"qdrant-local:{tmp_path / 'q'}"
    search = ["search", "rivers carry water", "--store", local, "--collection", "shared"]
    out = subprocess.run(
        [*command, *search, "--model", str(qwen_path), "--json", "-k", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    assert {h["text"] for h in hits if h["id"] in ids} == set(FOREIGN)
    copied = subprocess.run(
        [
            *command,
            "copy",
            "--from",
            local,
            "--to",
            f"qdrant:{tmp_path / 'edge'}",
            "--collection",
            "shared",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert copied.returncode == 0, copied.stderr[-3000:]
    edge = QdrantStore("shared", path=tmp_path / "edge")
    try:
        assert edge.count() == 3  # the harrier spans; the foreign points cannot be spans
    finally:
        edge.close()
