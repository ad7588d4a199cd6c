"""``IngestOptions``: one validated value for every executor, and the command's flags from it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import harrier
from harrier import ConfigurationError, IngestOptions, SourceDocument
from harrier.ingestion._options import add_arguments


@pytest.fixture(scope="module")
def qwen_engine(qwen_path):
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


@pytest.mark.parametrize(
    "changes",
    [
        {"max_tokens": 0},
        {"max_tokens": -5},
        {"max_tokens": 1.5},
        {"overlap_tokens": -1},
        {"max_tokens": 16, "overlap_tokens": 16},
        {"large_file_bytes": 0},
        {"group_documents": 0},
        {"convert_timeout": 0},
        {"convert_timeout": float("nan")},
        {"progress_interval": -1},
        {"include": [3]},
        {"prune": "yes"},
        {"show_progress": "auto"},
    ],
)
def test_bad_values_are_refused_where_written(changes):
    with pytest.raises(ConfigurationError):
        IngestOptions(**changes)


def test_zero_max_tokens_never_means_the_default():
    with pytest.raises(ConfigurationError, match="zero never means the default"):
        IngestOptions(max_tokens=0)


def test_options_are_frozen_and_patterns_become_tuples():
    options = IngestOptions(include="*.md", exclude=["a/", "b/"])
    assert options.include == ("*.md",) and options.exclude == ("a/", "b/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.prune = True  # type: ignore[misc]
    assert hash(options) == hash(IngestOptions(include=("*.md",), exclude=("a/", "b/")))


def test_a_misspelt_option_is_refused_with_the_known_names(tmp_path, qwen_engine):
    from harrier_qdrant import QdrantStore

    store = QdrantStore("c", path=tmp_path / "q")
    try:
        with pytest.raises(ConfigurationError, match=r"unknown ingest option.*max_token\b"):
            harrier.ingest([SourceDocument("a", "text")], store, qwen_engine, max_token=32)
        index = harrier.Index(store, qwen_engine)
        with pytest.raises(ConfigurationError, match=r"known: .*overlap_tokens"):
            index.ingest([SourceDocument("a", "text")], prunee=True)
    finally:
        store.close()


def test_options_and_keywords_mean_the_same(tmp_path, qwen_engine):
    from harrier_qdrant import QdrantStore

    docs = [SourceDocument(f"d{i}", f"sentence number {i} " * 20) for i in range(3)]
    reports = []
    for name, kwargs in (
        ("a", {"options": IngestOptions(max_tokens=16, overlap_tokens=4)}),
        ("b", {"max_tokens": 16, "overlap_tokens": 4}),
        ("c", {"options": IngestOptions(max_tokens=64), "max_tokens": 16, "overlap_tokens": 4}),
    ):
        store = QdrantStore(name, path=tmp_path / name)
        try:
            reports.append(harrier.ingest(docs, store, qwen_engine, quiet=True, **kwargs))
        finally:
            store.close()
    assert len({(r.spans_written, r.tokens) for r in reports}) == 1
    assert reports[0].spans_written > len(docs)  # 16-token spans: several per document


def test_every_executor_takes_the_options_and_no_unchecked_keywords():
    from harrier.ingestion.ray import ingest_on_ray

    for function in (harrier.ingest, harrier.Index.ingest, ingest_on_ray):
        parameters = inspect.signature(function).parameters
        assert "options" in parameters
        assert not {"max_tokens", "prune", "skip_log"} & set(parameters)  # one place only


def test_command_line_flags_come_from_the_fields():
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--max-tokens", "512", "--include", "*.md", "--include", "*.txt", "--no-sparse", "-q"]
    )
    options = IngestOptions.from_arguments(args)
    assert options == IngestOptions(
        max_tokens=512, include=("*.md", "*.txt"), sparse=False, quiet=True
    )
    assert IngestOptions.from_arguments(parser.parse_args([])) == IngestOptions()
    flags = {f.name for f in dataclasses.fields(IngestOptions) if "cli" in f.metadata}
    assert {"max_tokens", "overlap_tokens", "prune", "skip_log", "quiet", "sparse"} <= flags
