"""``HarrierTextSplitter``: chunks are ``harrier.split_spans`` spans, start indices are exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

import harrier
from langchain_harrier import HarrierEmbeddings, HarrierTextSplitter

SENTENCE = "The quick brown fox jumps over the lazy dog. "
# Repeated passages: str.find (what TextSplitter does by default) would find the wrong copy.
TEXT = SENTENCE * 12 + "\n\n" + "Paris is the capital of France. " * 6 + "\n\n" + SENTENCE * 12
MAX_TOKENS = 24


@pytest.fixture
def engine(model_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


def test_split_text_returns_the_spans_of_harrier(engine):
    splitter = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS)
    assert isinstance(splitter, TextSplitter)
    chunks = splitter.split_text(TEXT)
    expected = harrier.split_spans(TEXT, engine, max_tokens=MAX_TOKENS)
    assert chunks == [span.text for span in expected]
    assert len(chunks) > 3
    assert "".join(chunks) == TEXT  # nothing stripped or rewritten
    assert max(engine.count_tokens(chunks)) <= MAX_TOKENS


def test_start_index_is_exact_for_repeated_passages(engine):
    splitter = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS, add_start_index=True)
    documents = splitter.create_documents([TEXT, "short text"], [{"source": "a"}, {"source": "b"}])
    spans = harrier.split_spans(TEXT, engine, max_tokens=MAX_TOKENS)
    first = [d for d in documents if d.metadata["source"] == "a"]
    assert [d.metadata["start_index"] for d in first] == [span.start for span in spans]
    for doc in first:
        start = doc.metadata["start_index"]
        assert TEXT[start : start + len(doc.page_content)] == doc.page_content
    contents = [d.page_content for d in first]
    repeated = {c for c in contents if contents.count(c) > 1}
    assert repeated, "the test text should give identical chunks at different offsets"
    for content in repeated:  # each copy keeps its own offset, not the first match's
        offsets = [d.metadata["start_index"] for d in first if d.page_content == content]
        assert len(set(offsets)) == len(offsets)
    assert documents[-1] == Document("short text", metadata={"source": "b", "start_index": 0})


def test_overlapping_chunks_keep_exact_start_indices(engine):
    splitter = HarrierTextSplitter(
        engine, max_tokens=MAX_TOKENS, overlap_tokens=6, add_start_index=True
    )
    documents = splitter.create_documents([TEXT])
    expected = harrier.split_spans(TEXT, engine, max_tokens=MAX_TOKENS, overlap_tokens=6)
    assert [(d.page_content, d.metadata["start_index"]) for d in documents] == [
        (span.text, span.start) for span in expected
    ]
    starts = [d.metadata["start_index"] for d in documents]
    ends = [d.metadata["start_index"] + len(d.page_content) for d in documents]
    assert all(b < a_end for b, a_end in zip(starts[1:], ends[:-1], strict=False))  # overlap


def test_no_start_index_unless_asked(engine):
    documents = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS).create_documents([TEXT])
    assert all("start_index" not in d.metadata for d in documents)


def test_split_documents_copies_metadata(engine):
    splitter = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS, add_start_index=True)
    source = Document(TEXT, metadata={"source": "fox.txt", "tags": ["x"]})
    chunks = splitter.split_documents([source])
    assert len(chunks) > 1
    assert all(c.metadata["source"] == "fox.txt" for c in chunks)
    assert splitter.transform_documents([source]) == chunks
    chunks[0].metadata["tags"].append("changed")
    assert source.metadata == {"source": "fox.txt", "tags": ["x"]}
    assert chunks[1].metadata["tags"] == ["x"]


def test_empty_text_gives_no_chunks(engine):
    splitter = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS)
    assert splitter.split_text("") == []
    assert splitter.create_documents(["", "word"]) == [Document("word")]


def test_accepts_an_embedder_embeddings_or_a_model_name(qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    embeddings = HarrierEmbeddings(model=qwen_path, device="cpu", max_tokens=32)
    by_engine = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS)
    by_embeddings = HarrierTextSplitter(embeddings, max_tokens=MAX_TOKENS)
    by_name = HarrierTextSplitter(str(qwen_path), max_tokens=MAX_TOKENS, device="cpu")
    assert by_engine.split_text(TEXT) == by_embeddings.split_text(TEXT)
    assert by_engine.split_text(TEXT) == by_name.split_text(TEXT)
    assert by_name.embedder._loaded is engine._loaded
    # Without max_tokens, chunks fit the embeddings' own limit.
    chunks = HarrierTextSplitter(embeddings).split_text(TEXT)
    assert max(engine.count_tokens(chunks)) <= 32
    assert len(embeddings.embed_documents(chunks)) == len(chunks)


def test_length_function_counts_model_tokens(engine):
    splitter = HarrierTextSplitter(engine, max_tokens=MAX_TOKENS)
    assert splitter._length_function(SENTENCE) == engine.count_tokens([SENTENCE])[0]


def test_settings_are_checked_at_construction(engine, qwen_path):
    with pytest.raises(harrier.ConfigurationError, match="overlap_tokens"):
        HarrierTextSplitter(engine, max_tokens=8, overlap_tokens=8)
    with pytest.raises(harrier.ConfigurationError, match="max_tokens"):
        HarrierTextSplitter(engine, max_tokens=engine.max_tokens + 1)
    with pytest.raises(harrier.ConfigurationError, match="by name"):
        HarrierTextSplitter(engine, device="cpu")
