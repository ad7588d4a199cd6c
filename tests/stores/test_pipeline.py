"""Ingestion semantics, run on every embedded store (see conftest.STORE_KINDS)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import harrier
from harrier import SourceDocument
from harrier._tokens import encode

SENTENCE = "Rivers carry water from the hills down to the sea. "


def stored_text(store: harrier.VectorStore, doc_id: str) -> str:
    return "".join(r.text for r in store.fetch_spans(doc_id))


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


def test_a_new_collection_is_created_while_the_first_documents_embed(
    open_store, qwen_engine, monkeypatch
):
    """Creating the collection does not hold up the embedding (no store was read for it: a new
    collection holds nothing); the first write waits for it."""
    store = open_store()
    embedding = threading.Event()
    embed = qwen_engine.embed_token_ids

    def embed_and_tell(*args, **kwargs):  # type: ignore[no-untyped-def]
        embedding.set()
        return embed(*args, **kwargs)

    create = store.create_collection

    def create_once_embedding(model, dimension):  # type: ignore[no-untyped-def]
        assert embedding.wait(30), "the collection was created before any embedding began"
        create(model, dimension)

    monkeypatch.setattr(qwen_engine, "embed_token_ids", embed_and_tell)
    monkeypatch.setattr(store, "create_collection", create_once_embedding)
    report = harrier.ingest(
        [SourceDocument(f"d{i}", SENTENCE * 3) for i in range(5)], store, qwen_engine
    )
    assert report.spans_written == 5 and report.skipped == 0
    assert sorted(store.iter_doc_ids()) == [f"d{i}" for i in range(5)]
    again = harrier.ingest(
        [SourceDocument(f"d{i}", SENTENCE * 3) for i in range(5)], store, qwen_engine
    )
    assert again.unchanged == 5 and again.spans_written == 0


def test_a_folder_gets_its_new_collection_before_the_walk(
    open_store, qwen_engine, monkeypatch, tmp_path
):
    """A folder may hold the store's own files, known by marks that must exist before the walk
    meets them: the collection is made before anything is read."""
    store = open_store()
    created = threading.Event()
    create = store.create_collection

    def create_and_tell(model, dimension):  # type: ignore[no-untyped-def]
        create(model, dimension)
        created.set()

    embed = qwen_engine.embed_token_ids

    def embed_once_created(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert created.is_set(), "a document was embedded before the collection was made"
        return embed(*args, **kwargs)

    monkeypatch.setattr(store, "create_collection", create_and_tell)
    monkeypatch.setattr(qwen_engine, "embed_token_ids", embed_once_created)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"d{i}.txt").write_text(SENTENCE * 3, encoding="utf-8")
    report = harrier.ingest(folder, store, qwen_engine)
    assert report.documents == 3 and report.spans_written == 3


def test_a_collection_that_cannot_be_created_fails_the_run(open_store, qwen_engine, monkeypatch):
    store = open_store()

    def refuse(model, dimension):  # type: ignore[no-untyped-def]
        raise harrier.StoreWriteError("no space left on the device")

    monkeypatch.setattr(store, "create_collection", refuse)
    with pytest.raises(harrier.StoreWriteError, match="no space"):
        harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    assert store.collection_model() is None


def test_a_missing_source_is_refused_before_a_collection_is_made(open_store, qwen_engine, tmp_path):
    store = open_store()
    with pytest.raises(harrier.SourceError, match="neither a folder nor a file"):
        harrier.ingest(tmp_path / "typo", store, qwen_engine)
    assert store.collection_model() is None


def test_model_mismatch_is_refused(open_store, qwen_engine, gemma_path, tmp_path):
    store = open_store()
    harrier.ingest([SourceDocument("a", SENTENCE)], store, qwen_engine)
    other = harrier.Embedder.from_pretrained(gemma_path, device="cpu")
    with pytest.raises(harrier.CollectionMismatchError, match="refusing"):
        harrier.ingest([SourceDocument("b", SENTENCE)], store, other)
    with pytest.raises(harrier.CollectionMismatchError):
        harrier.Index(store, other).search("anything")
    assert store.count() == 1


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
