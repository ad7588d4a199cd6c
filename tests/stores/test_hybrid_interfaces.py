"""Search modes through the command line and both frameworks' retrievers."""

from __future__ import annotations

import json

import pytest
from llama_index.core.schema import QueryBundle
from llama_index.core.vector_stores.types import VectorStoreQueryMode

import harrier
from harrier import SourceDocument
from harrier_qdrant import QdrantStore
from langchain_harrier import HarrierRetriever as LangChainRetriever
from llama_index.embeddings.harrier import HarrierRetriever as LlamaIndexRetriever

TEXTS = {"a": "the lighthouse keeper", "b": "rivers and hills", "c": "a quiet harbour town"}


@pytest.fixture
def index(tmp_path, qwen_engine):
    built = harrier.Index(QdrantStore("docs", path=tmp_path / "q"), qwen_engine)
    built.ingest([SourceDocument(i, t, {"i": i}) for i, t in TEXTS.items()])
    yield built
    built.close()


def test_both_retrievers_take_the_mode(index):
    for mode in ("sparse", "hybrid", "dense"):
        expected = [h.id for h in index.search("lighthouse", k=2, mode=mode)]
        docs = LangChainRetriever(index=index, k=2, mode=mode).invoke("lighthouse")
        assert [d.id for d in docs] == expected
    llama_modes = {
        VectorStoreQueryMode.SPARSE: "sparse",
        VectorStoreQueryMode.HYBRID: "hybrid",
        VectorStoreQueryMode.DEFAULT: "dense",
    }
    for llama_mode, mode in llama_modes.items():
        nodes = LlamaIndexRetriever(index, k=2, mode=llama_mode).retrieve(QueryBundle("lighthouse"))
        assert [n.node.node_id for n in nodes] == [
            h.id for h in index.search("lighthouse", k=2, mode=mode)
        ]
    weighted = LlamaIndexRetriever(index, k=3, mode="hybrid", alpha=0.2)
    assert [n.score for n in weighted.retrieve(QueryBundle("harbour"))] == [
        h.score for h in index.search("harbour", k=3, weights=(0.2, 0.8))
    ]
    assert LangChainRetriever(index=index, k=1, mode="sparse").invoke("harbour")[
        0
    ].id == harrier.span_id("c", 0)
    with pytest.raises(harrier.ConfigurationError, match="VectorStoreQueryMode"):
        LlamaIndexRetriever(index, mode=VectorStoreQueryMode.MMR)


def test_the_command_line_searches_in_each_mode(tmp_path, qwen_path, capsys):
    from harrier.cli import main

    (tmp_path / "docs").mkdir()
    for name, text in TEXTS.items():
        (tmp_path / "docs" / f"{name}.txt").write_text(text, encoding="utf-8")
    common = [
        "--store",
        f"qdrant:{tmp_path / 'q'}",
        "--model",
        str(qwen_path),
        "--device",
        "cpu",
        "--json",
    ]
    assert main(["ingest", str(tmp_path / "docs"), "--collection", "hy", *common]) == 0
    assert (
        main(["ingest", str(tmp_path / "docs"), "--collection", "de", "--no-sparse", *common]) == 0
    )
    capsys.readouterr()
    for mode, expected in ((None, "hybrid"), ("sparse", "sparse"), ("dense", "dense")):
        extra = [] if mode is None else ["--mode", mode]
        assert main(["search", "lighthouse", "-k", "1", "--collection", "hy", *extra, *common]) == 0
        hit = json.loads(capsys.readouterr().out)
        assert hit["mode"] == expected
        if mode == "sparse":
            assert hit["doc_id"] == "a.txt"
    assert main(["search", "lighthouse", "-k", "1", "--collection", "de", *common]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "dense"
    with pytest.raises(SystemExit) as info:
        main(["search", "lighthouse", "--mode", "hybrid", "--collection", "de", *common])
    assert info.value.code == 1
    assert "no BM25 vectors" in capsys.readouterr().err
