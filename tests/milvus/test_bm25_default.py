"""BM25 by default where the store has it: an old server gets a dense-only collection and one
warning line; ``sparse=True`` (``--sparse``) keeps the refusal."""

from __future__ import annotations

import logging

import pytest

import harrier
from harrier import SourceDocument
from harrier_milvus import MilvusStore


@pytest.mark.server
def test_the_default_on_a_server_without_bm25_is_dense_with_one_warning(
    milvus_server, open_server_store, qwen_engine, caplog
):
    name = open_server_store().collection  # dropped after the test
    store = MilvusStore(name, url=milvus_server.uri, token=milvus_server.token)
    with (
        caplog.at_level(logging.WARNING, logger="harrier"),
        harrier.Index(store, qwen_engine) as index,
    ):
        report = index.ingest([SourceDocument("a", "rivers and hills")])
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert report.spans_written == 1
        if milvus_server.bm25:
            assert warnings == [] and index.resolve_mode() == "hybrid"
        else:
            (line,) = warnings
            assert "has no BM25 function" in line and name in line and "\n" not in line
            assert index.resolve_mode() == "dense"
            assert [h.doc_id for h in index.search("rivers", k=1)] == ["a"]


def test_lite_gets_bm25_by_default(tmp_path, qwen_engine):
    with harrier.Index(MilvusStore("c", path=tmp_path / "m.db"), qwen_engine) as index:
        index.ingest([SourceDocument("a", "rivers and hills")])
        assert index.resolve_mode() == "hybrid"


@pytest.mark.parametrize(
    ("flags", "expected"), [((), None), (("--sparse",), True), (("--no-sparse",), False)]
)
def test_the_cli_passes_the_sparse_choice_through(flags, expected):
    from harrier.cli import build_parser

    args = build_parser().parse_args(["ingest", "docs", "--collection", "c", *flags])
    assert args.sparse is expected
