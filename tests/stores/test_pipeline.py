"""Ingestion semantics, run on every embedded store (see conftest.STORE_KINDS)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import harrier
from harrier import SourceDocument
from harrier._tokens import encode

SENTENCE = "Rivers carry water from the hills down to the sea. "


def text_of_spans(engine: harrier.Embedder, max_tokens: int, spans: int) -> str:
    """A text (grown word by word) that splits into exactly ``spans`` spans."""
    text = ""
    for i in range(10_000):
        text += SENTENCE.split()[i % 10] + " "
        if len(harrier.split_spans(text, engine, max_tokens=max_tokens)) == spans:
            return text
    raise AssertionError("no such text")


def stored_text(store: harrier.VectorStore, doc_id: str) -> str:
    return "".join(r.text for r in store.fetch_spans(doc_id))


def test_rerun_writes_nothing(open_store, qwen_engine):
    docs = [SourceDocument(f"d{i}", SENTENCE * (i + 1), {"n": i}) for i in range(6)]
    store = open_store()
    first = harrier.ingest(docs, store, qwen_engine, max_tokens=32)
    count = store.count()
    assert first.documents == 6 and first.spans_written == count > 6
    second = harrier.ingest(docs, store, qwen_engine, max_tokens=32)
    assert (second.unchanged, second.spans_written, second.spans_deleted, second.tokens) == (
        6,
        0,
        0,
        0,
    )
    assert store.count() == count


def test_stored_spans_carry_everything_and_match_the_reference(open_store, qwen_engine, qwen_path):
    text = "Paris is the capital of France. " * 12 + "\n\n" + "Berlin is in Germany. " * 9
    store = open_store()
    harrier.ingest(
        [SourceDocument("geo/1", text, {"lang": "en", "tags": ["a", "b"]})],
        store,
        qwen_engine,
        max_tokens=40,
    )
    records = store.fetch_spans("geo/1")
    assert [r.span_index for r in records] == list(range(len(records)))
    assert "".join(r.text for r in records) == text
    reference = SentenceTransformer(str(qwen_path), device="cpu")
    expected = reference.encode([r.text for r in records], normalize_embeddings=True)
    tokenizer = reference.tokenizer
    for record, vector in zip(records, expected, strict=True):
        assert text[record.start : record.end] == record.text
        assert record.span_count == len(records)
        assert record.token_count == len(tokenizer(record.text)["input_ids"]) <= 40
        assert record.doc_id == "geo/1" and record.model == qwen_engine.model_name
        assert record.metadata == {"lang": "en", "tags": ["a", "b"]}
        assert record.id == harrier.span_id("geo/1", record.span_index)
        assert len(record.doc_hash) == 64
        np.testing.assert_allclose(record.vector, vector, atol=1e-5)


def test_changed_document_shrinks_from_five_spans_to_two(open_store, qwen_engine):
    store = open_store()
    long_text = text_of_spans(qwen_engine, 24, 5)
    harrier.ingest([SourceDocument("doc", long_text)], store, qwen_engine, max_tokens=24)
    assert len(store.fetch_spans("doc")) == 5
    short_text = text_of_spans(qwen_engine, 24, 2)
    report = harrier.ingest([SourceDocument("doc", short_text)], store, qwen_engine, max_tokens=24)
    records = store.fetch_spans("doc")
    assert [r.span_index for r in records] == [0, 1]
    assert {r.span_count for r in records} == {2}
    assert "".join(r.text for r in records) == short_text
    assert (report.spans_written, report.spans_deleted) == (2, 3)
    assert store.count() == 2


def test_document_ids_with_any_characters(open_store, qwen_engine):
    ids = [
        "a/b c.txt",
        "ключ?#%&=",
        "😀 \"quoted\" 'single'",
        "line\nbreak\ttab",
        "x" * 300,
        "中文/路径.md",
        "",
    ]
    docs = [SourceDocument(doc_id, f"{SENTENCE} number {i}") for i, doc_id in enumerate(ids)]
    store = open_store()
    harrier.ingest(docs, store, qwen_engine)
    for doc in docs:
        assert stored_text(store, doc.id) == doc.text
    assert sorted(store.iter_doc_ids()) == sorted(ids)
    assert harrier.ingest(docs, store, qwen_engine).unchanged == len(ids)


def test_interrupted_between_write_and_delete_leaves_a_complete_document(
    open_store, qwen_engine, monkeypatch
):
    store = open_store()
    harrier.ingest(
        [SourceDocument("doc", text_of_spans(qwen_engine, 24, 5))],
        store,
        qwen_engine,
        max_tokens=24,
    )
    new_text = text_of_spans(qwen_engine, 24, 2)

    def crash(*args, **kwargs):
        raise RuntimeError("process died before deleting stale spans")

    monkeypatch.setattr(type(store), "delete_stale", crash)
    with pytest.raises(RuntimeError):
        harrier.ingest([SourceDocument("doc", new_text)], store, qwen_engine, max_tokens=24)
    monkeypatch.undo()
    records = store.fetch_spans("doc")
    new_hash = records[0].doc_hash
    current = [r for r in records if r.doc_hash == new_hash]
    assert "".join(r.text for r in current) == new_text  # the new version is whole
    assert [r.span_index for r in current] == [0, 1]
    assert all(r.span_index >= 2 for r in records if r.doc_hash != new_hash)
    report = harrier.ingest([SourceDocument("doc", new_text)], store, qwen_engine, max_tokens=24)
    assert report.spans_deleted == 3
    assert stored_text(store, "doc") == new_text and store.count() == 2


def test_model_mismatch_is_refused(open_store, qwen_engine, gemma_path, tmp_path):
    store = open_store()
    harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    other = harrier.Embedder.from_pretrained(gemma_path, device="cpu")
    with pytest.raises(harrier.CollectionMismatchError, match="refusing"):
        harrier.ingest([SourceDocument("b", SENTENCE)], store, other)
    with pytest.raises(harrier.CollectionMismatchError):
        harrier.Index(store, other).search("anything")
    assert store.count() == 1


def test_dimension_mismatch_is_refused(open_store, qwen_engine, tmp_path):
    from harrier.testing import SHAPES, build_model

    folder = build_model(
        tmp_path / "wide", SHAPES["tiny-qwen3"].__class__("qwen3", 96, 1, 4, 2, 24, 128, 1024)
    )
    wide = harrier.Embedder.from_pretrained(folder, device="cpu")
    store = open_store("wide")
    harrier.ingest([SourceDocument("a", SENTENCE)], store, wide)
    wide.model_name = qwen_engine.model_name  # same name, other dimension
    with pytest.raises(harrier.CollectionMismatchError, match="dimension 96"):
        harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)


def test_prune_removes_vanished_documents_only_when_asked(open_store, qwen_engine):
    store = open_store()
    docs = [SourceDocument(f"d{i}", f"{SENTENCE} {i}") for i in range(4)]
    harrier.ingest(docs, store, qwen_engine)
    kept = harrier.ingest(docs[:2], store, qwen_engine)
    assert kept.documents_pruned == 0 and sorted(store.iter_doc_ids()) == ["d0", "d1", "d2", "d3"]
    pruned = harrier.ingest(docs[:2], store, qwen_engine, prune=True)
    assert pruned.documents_pruned == 2 and sorted(store.iter_doc_ids()) == ["d0", "d1"]


def test_changed_metadata_rewrites_the_document(open_store, qwen_engine):
    store = open_store()
    harrier.ingest([SourceDocument("a", SENTENCE, {"v": 1})], store, qwen_engine)
    report = harrier.ingest([SourceDocument("a", SENTENCE, {"v": 2})], store, qwen_engine)
    assert report.spans_written == 1
    assert store.fetch_spans("a")[0].metadata == {"v": 2}


def test_search_ranks_like_brute_force(open_store, qwen_engine):
    texts = [f"{word} {SENTENCE}" for word in ("alpha", "beta", "gamma", "delta", "epsilon")]
    store = open_store()
    index = harrier.Index(store, qwen_engine)
    index.ingest([SourceDocument(f"d{i}", t, {"i": i}) for i, t in enumerate(texts)])
    hits = index.search("gamma rivers", k=3, mode="dense")
    scores = qwen_engine.embed_documents(texts) @ qwen_engine.embed_queries(["gamma rivers"])[0]
    expected = [f"d{i}" for i in np.argsort(-scores)[:3]]
    assert [h.doc_id for h in hits] == expected
    np.testing.assert_allclose([h.score for h in hits], np.sort(scores)[::-1][:3], atol=1e-5)
    assert hits[0].text == texts[int(expected[0][1:])]
    assert (hits[0].start, hits[0].end) == (0, len(hits[0].text))
    only = index.search("gamma rivers", k=5, filter={"i": 3}, mode="dense")
    assert [h.doc_id for h in only] == ["d3"] and only[0].metadata == {"i": 3}


def test_search_on_missing_collection_is_a_clear_error(open_store, qwen_engine):
    with pytest.raises(harrier.StoreError, match="ingest into it first"):
        harrier.Index(open_store("nothing"), qwen_engine).search("q")


def test_sources_folder_jsonl_and_framework_documents(open_store, qwen_engine, tmp_path):
    from langchain_core.documents import Document as LCDocument
    from llama_index.core import Document as LIDocument

    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Title\n\n" + SENTENCE, encoding="utf-8")
    (folder / "sub" / "b.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    (folder / "image.bin").write_bytes(b"\x89PNG\x00\x01\x02")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "blank.txt").write_text("   \n\t\n", encoding="utf-8")
    store = open_store()
    report = harrier.ingest(folder, store, qwen_engine)
    assert (report.documents, report.skipped) == (2, 3)
    assert sorted(store.iter_doc_ids()) == ["a.md", "sub/b.py"]
    assert any("binary" in r for r in report.skip_reasons)
    assert any("UTF-8" in r for r in report.skip_reasons)

    lines = [
        {"id": "j1", "text": SENTENCE, "metadata": {"k": "v"}},
        {"text": "no id here"},
        "not an object",
    ]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n", encoding="utf-8")
    report = harrier.ingest(jsonl, store, qwen_engine)
    assert (report.documents, report.skipped) == (2, 2)
    assert store.fetch_spans("j1")[0].metadata == {"k": "v"}
    [no_id] = [d for d in store.iter_doc_ids() if d.startswith("docs.jsonl:")]
    assert stored_text(store, no_id) == "no id here"

    framework_docs = [
        LCDocument(page_content="from langchain", metadata={"f": "lc"}, id="lc1"),
        LIDocument(text="from llamaindex", metadata={"f": "li"}, id_="li1"),
    ]
    harrier.ingest(framework_docs, store, qwen_engine)
    assert stored_text(store, "lc1") == "from langchain"
    assert store.fetch_spans("li1")[0].metadata == {"f": "li"}


def test_duplicate_ids_and_bad_metadata_are_skipped(open_store, qwen_engine):
    docs = [
        SourceDocument("a", "first"),
        SourceDocument("a", "second"),
        SourceDocument("b", "x", {"when": object()}),
    ]
    store = open_store()
    report = harrier.ingest(docs, store, qwen_engine)
    assert (report.documents, report.skipped) == (1, 2)
    assert stored_text(store, "a") == "first"


def test_stored_vectors_are_the_engines_for_the_span_texts(open_store, qwen_engine):
    """Tokenise once: the ids the splitter computed give the vectors the texts give."""
    docs = [SourceDocument(f"d{i}", SENTENCE * (3 * i + 1)) for i in range(5)]
    store = open_store()
    harrier.ingest(docs, store, qwen_engine, max_tokens=48)
    records = [r for d in docs for r in store.fetch_spans(d.id)]
    assert len(records) > len(docs)
    expected = qwen_engine.embed_documents([r.text for r in records])
    np.testing.assert_allclose(np.stack([r.vector for r in records]), expected, atol=1e-5)


def test_an_unchanged_document_is_never_tokenised(open_store, qwen_engine, monkeypatch):
    docs = [SourceDocument(f"d{i}", SENTENCE * (i + 1)) for i in range(4)]
    store = open_store()
    harrier.ingest(docs, store, qwen_engine, max_tokens=32)

    def no_documents(tokenizer: object, texts: list[str]) -> list[np.ndarray]:
        assert not any(texts), "an unchanged document was tokenised"  # "": counts specials
        return encode(tokenizer, texts)

    monkeypatch.setattr("harrier._spans.encode", no_documents)
    monkeypatch.setattr("harrier._embedder.encode", no_documents)
    report = harrier.ingest(docs, store, qwen_engine, max_tokens=32)
    assert report.unchanged == 4 and report.tokens == 0
