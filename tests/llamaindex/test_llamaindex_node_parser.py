"""HarrierNodeParser: exact offsets, relationships, metadata, and spans from harrier.split_spans."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import Document, MetadataMode, NodeRelationship, TextNode

import harrier
from llama_index.embeddings.harrier import HarrierEmbedding, HarrierNodeParser

# Repeats on purpose: re-finding a node's text in the document would land on an earlier copy.
TEXT = (
    "Paragraph one ends here.\n\nParagraph two starts here. It has two sentences. " * 12
    + "Der schnelle braune Fuchs springt über den faulen Hund. 東京は日本の首都です。"
)


def fixed_ids(i: int, node) -> str:  # type: ignore[no-untyped-def]
    return f"{node.node_id}-{i}"


def test_nodes_are_exact_slices_with_relationships(qwen_engine):
    doc = Document(text=TEXT, doc_id="doc-1", metadata={"lang": "en"})
    parser = HarrierNodeParser(qwen_engine, max_tokens=32, overlap_tokens=6)
    assert isinstance(parser, NodeParser)
    nodes = parser.get_nodes_from_documents([doc])
    assert len(nodes) > 3
    for i, node in enumerate(nodes):
        assert isinstance(node, TextNode)
        assert TEXT[node.start_char_idx : node.end_char_idx] == node.text
        assert node.ref_doc_id == "doc-1"
        assert node.relationships[NodeRelationship.SOURCE].node_id == "doc-1"
        assert node.metadata == {"lang": "en"}
        if i:
            assert node.relationships[NodeRelationship.PREVIOUS].node_id == nodes[i - 1].node_id
            assert node.start_char_idx < nodes[i - 1].end_char_idx  # overlapping
        if i < len(nodes) - 1:
            assert node.relationships[NodeRelationship.NEXT].node_id == nodes[i + 1].node_id
    assert nodes[0].start_char_idx == 0 and nodes[-1].end_char_idx == len(TEXT)
    assert [n.start_char_idx for n in nodes] == sorted(n.start_char_idx for n in nodes)


def test_spans_come_from_split_spans(qwen_engine):
    parser = HarrierNodeParser(qwen_engine, max_tokens=40, include_metadata=False)
    nodes = parser.get_nodes_from_documents([Document(text=TEXT, metadata={"k": "v"})])
    spans = harrier.split_spans(TEXT, qwen_engine, max_tokens=40)
    assert [(n.text, n.start_char_idx, n.end_char_idx) for n in nodes] == [
        (s.text, s.start, s.end) for s in spans
    ]
    assert "".join(n.text for n in nodes) == TEXT  # no overlap: the spans tile the text
    assert all(n.metadata == {} for n in nodes)


def test_accepts_embedder_embedding_or_model_name(qwen_path: Path, qwen_engine):
    doc = Document(text=TEXT, doc_id="d")
    sources = [qwen_engine, HarrierEmbedding(model_name=str(qwen_path)), str(qwen_path), qwen_path]
    results = []
    for source in sources:
        parser = HarrierNodeParser(source, max_tokens=40, overlap_tokens=4, id_func=fixed_ids)
        assert parser.model_name == str(qwen_path)
        results.append([(n.node_id, n.text) for n in parser.get_nodes_from_documents([doc])])
    assert all(result == results[0] for result in results)


def test_max_tokens_defaults_to_the_embedders(qwen_path: Path, qwen_engine):
    embedding = HarrierEmbedding(model_name=str(qwen_path), max_tokens=48)
    assert HarrierNodeParser(embedding).max_tokens == 48
    assert HarrierNodeParser(qwen_engine).max_tokens == qwen_engine.max_tokens
    assert HarrierNodeParser(str(qwen_path)).max_tokens == 32_768
    with pytest.raises(harrier.ConfigurationError):
        HarrierNodeParser(embedding, max_tokens=49)  # more than the embedder accepts
    with pytest.raises(harrier.ConfigurationError):
        HarrierNodeParser(embedding, max_tokens=20, overlap_tokens=19)


def test_nodes_fit_the_model_with_their_metadata(qwen_path: Path, qwen_engine):
    metadata = {"title": "A rather long title about foxes and dogs", "author": "Someone"}
    doc = Document(text=TEXT, metadata=metadata, excluded_embed_metadata_keys=["author"])
    embedding = HarrierEmbedding(model_name=str(qwen_path), max_tokens=40)
    nodes = HarrierNodeParser(embedding).get_nodes_from_documents([doc])
    embedded = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    assert all("title: A rather long" in text and "Someone" not in text for text in embedded)
    assert max(qwen_engine.count_tokens(embedded)) <= 40
    assert len(embedding(nodes)) == len(nodes)  # embeds without TextTooLongError
    assert all(n.excluded_embed_metadata_keys == ["author"] for n in nodes)


def test_metadata_that_leaves_no_room_is_refused(qwen_engine):
    doc = Document(text=TEXT, metadata={"summary": "The quick brown fox jumps. " * 20})
    with pytest.raises(harrier.ConfigurationError, match="excluded_embed_metadata_keys"):
        HarrierNodeParser(qwen_engine, max_tokens=40).get_nodes_from_documents([doc])


def test_text_nodes_and_empty_documents(qwen_engine):
    source = TextNode(text=TEXT[100:400], id_="chunk")
    parser = HarrierNodeParser(qwen_engine, max_tokens=24)
    nodes = parser([source, Document(text="")])
    assert nodes and all(n.ref_doc_id == "chunk" for n in nodes)
    assert all(source.text[n.start_char_idx : n.end_char_idx] == n.text for n in nodes)


async def test_async_parsing_equals_sync(qwen_engine):
    docs = [Document(text=TEXT, doc_id="a"), Document(text=TEXT[::-1], doc_id="b")]
    parser = HarrierNodeParser(qwen_engine, max_tokens=32, id_func=fixed_ids)
    sync = parser.get_nodes_from_documents(docs)
    asynchronous = await parser.aget_nodes_from_documents(docs)
    assert [n.to_dict() for n in asynchronous] == [n.to_dict() for n in sync]


def test_serialises_and_pickles(qwen_path: Path):
    parser = HarrierNodeParser(str(qwen_path), max_tokens=32, overlap_tokens=3)
    data = parser.to_dict()
    assert data["class_name"] == "HarrierNodeParser" == HarrierNodeParser.class_name()
    assert (data["model_name"], data["max_tokens"], data["overlap_tokens"]) == (
        str(qwen_path),
        32,
        3,
    )
    restored = pickle.loads(pickle.dumps(parser))
    doc = Document(text=TEXT)
    assert [n.text for n in restored([doc])] == [n.text for n in parser([doc])]
