"""``StoreContract``: the behaviour every harrier store must show, as a pytest base class.

A store package subclasses it in its tests and provides one fixture, ``store_factory``::

    from harrier.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self):
            return lambda collection, folder: MyStore(collection, path=folder / "my.db")

``store_factory(collection, folder)`` opens ``collection`` on a store whose files live in
``folder`` (a fresh directory per test; a server store may ignore it). The contract runs the real
pipeline (``harrier.ingest``, ``Index.search``, ``copy_collection``) with a tiny random model
(override the ``embedder`` fixture to share one) and checks ids, skip/replace/prune, the write
order that survives a crash, copying, hybrid search, filters (docs/filters.md) and typed errors.
See docs/writing-a-store.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harrier
from harrier import SourceDocument
from harrier.stores import AllOf, AnyOf, Condition, VectorStore, parse_filter
from harrier.stores.filters import OPERATORS, conditions

StoreFactory = Callable[[str, Path], VectorStore]

SENTENCE = "Rivers carry water from the hills down to the sea. "
CONTRACT_MODEL = harrier.ModelIdentity("contract-model", "c" * 64)
"""The identity the record-level checks create collections with (no model behind it)."""

# One word per language that occurs in exactly one document, and documents of varied lengths.
CORPUS = {
    "zh-1": "明天北京的天气很好,我们去公园散步吧。",
    "zh-2": "机器学习是人工智能的一个分支,研究计算机如何学习。",
    "ja-1": "東京都の天気は晴れ、明日は雨が降るでしょう。",
    "ja-2": "新しい図書館で本を読むのが好きです。",
    "ar-1": "الطقس في القاهرة حار جدا في الصيف",
    "ar-2": "المكتبة الجديدة مفتوحة كل يوم",
    "ru-1": "Москва — столица России, большой город на реке.",
    "ru-2": "Библиотека открыта каждый день, кроме воскресенья.",
    "fr-1": "L'élévation des prix à Paris inquiète les étudiants.",
    "fr-2": "La bibliothèque est fermée le dimanche matin.",
    "en-1": "The cats are running in the garden near the river river river.",
    "en-2": "A library opens every day except Sunday, and the river is calm.",
}
WORDS = {
    "zh": ("天气", "zh-1"),
    "ja": ("天気", "ja-1"),
    "ar": ("القاهرة", "ar-1"),
    "ru": ("столица", "ru-1"),
    "fr": ("élévation", "fr-1"),
    "en": ("garden", "en-1"),
    "fr-folded": ("elevation", "fr-1"),
    "ja-kanji": ("雨", "ja-1"),
}

FILTER_METADATA: dict[str, dict[str, Any]] = {
    "d0": {
        "lang": "en",
        "n": 3,
        "x": 1.5,
        "flag": True,
        "nest": {"b": 1, "c": "z"},
        "title": 'say "hi" \\ there',
    },
    "d1": {"lang": "fr", "n": 3.0, "x": 2, "flag": False, "nest": {"b": 2}, "title": "plain"},
    "d2": {"lang": "de", "n": 2.5, "flag": True, "title": "back\\slash"},
    "d3": {"lang": 'q"uote', "n": -1, "nest": {"b": 1.0}, "a.b": 5},
    "d4": {"lang": "en", "n": "3", "title": "a b c"},
    "d5": {},
    "d6": {"lang": "日本語", "n": 7, "x": -0.5, "flag": False, "my key": "v", "言語": "ja"},
    "d7": {"lang": "en", "n": None, "nest": "flat"},
    "d8": {"lang": "EN", "nest": {"b": {"deep": True}}},
}
"""The metadata the filter table runs over: one span per document."""

FILTER_TABLE: list[Any] = [
    {"lang": "en"},
    {"lang": "EN"},
    {"n": 3},
    {"n": 3.0},
    {"x": 2.0},
    {"n": "3"},
    {"flag": True},
    {"flag": False},
    {"lang": ["en", "fr"]},
    {"n": [2.5, 7]},
    {"lang": 'q"uote'},
    {"title": 'say "hi" \\ there'},
    {"title": "back\\slash"},
    {"lang": '" or 1==1 or "'},
    {"lang": "' or 1==1 or '"},
    {"nest.b": 1},
    {"nest.c": "z"},
    {"nest.b.deep": True},
    {"a.b": 5},  # a nested path: the literal key "a.b" of d3 is not it
    {"lang": "en", "n": 3},
    {"my key": "v"},
    {"言語": "ja"},
    {"lang": "日本語"},
    Condition("n", "!=", 3),
    Condition("lang", "!=", "en"),
    Condition("flag", "!=", True),
    Condition("nest", "!=", "flat"),
    Condition("lang", "nin", ("en", "fr")),
    Condition("n", "nin", (3, -1)),
    Condition("n", ">", 2),
    Condition("n", ">=", 3),
    Condition("n", "<", 3),
    Condition("n", "<=", -1),
    Condition("x", ">", 0),
    Condition("nest.b", ">", 0),
    Condition("title", "text_match", "hi"),
    Condition("title", "text_match", '"hi"'),
    Condition("lang", "text_match", "e"),
    Condition("title", "text_match", "nowhere"),
    AnyOf((Condition("lang", "==", "de"), Condition("flag", "==", False))),
    AllOf(
        (AnyOf((Condition("lang", "==", "en"), Condition("n", ">", 5))), Condition("n", ">=", 0))
    ),
    AllOf((Condition("lang", "in", ("en", "EN")), Condition("nest.b", "!=", 5))),
]
"""Every operator, dotted keys, int vs float, bools, lists, AND/OR, quotes and backslashes."""

_MISSING = object()


def filter_reference(flt: object) -> list[str]:
    """The documents of FILTER_METADATA that ``flt`` selects, read from docs/filters.md in plain
    Python (independent of every store's translation)."""
    parsed = parse_filter(flt)
    return sorted(doc for doc, metadata in FILTER_METADATA.items() if _holds(metadata, parsed))


def _lookup(metadata: dict[str, Any], key: str) -> Any:
    value: Any = metadata
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(stored: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(stored, bool):
        return type(stored) is type(value) and stored == value
    if _number(value):
        return _number(stored) and stored == value
    return isinstance(stored, str) and stored == value


def _holds(metadata: dict[str, Any], flt: Any) -> bool:
    if isinstance(flt, AllOf):
        return all(_holds(metadata, c) for c in flt.conditions)
    if isinstance(flt, AnyOf):
        return any(_holds(metadata, c) for c in flt.conditions)
    stored = _lookup(metadata, flt.key)
    present = stored is not _MISSING and stored is not None
    values = flt.value if isinstance(flt.value, tuple) else (flt.value,)
    if flt.op in ("==", "in"):
        return present and any(_equal(stored, v) for v in values)
    if flt.op in ("!=", "nin"):
        return present and not any(_equal(stored, v) for v in values)
    if flt.op == "text_match":
        return isinstance(stored, str) and flt.value in stored
    compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}
    return _number(stored) and compare[flt.op](float(stored), float(flt.value))


def _filter_records(dimension: int) -> list[harrier.SpanRecord]:
    rng = np.random.default_rng(0)
    records = []
    for doc_id, metadata in FILTER_METADATA.items():
        vector = rng.standard_normal(dimension).astype(np.float32)
        records.append(
            harrier.SpanRecord(
                id=harrier.span_id(doc_id, 0),
                vector=vector / np.linalg.norm(vector),
                text=f"text of {doc_id}",
                doc_id=doc_id,
                span_index=0,
                span_count=1,
                start=0,
                end=1,
                token_count=1,
                doc_hash=f"h-{doc_id}",
                model=CONTRACT_MODEL.name,
                metadata=metadata,
            )
        )
    return records


def text_of_spans(engine: harrier.Embedder, max_tokens: int, spans: int) -> str:
    """A text (grown word by word) that splits into exactly ``spans`` spans."""
    text = ""
    for i in range(10_000):
        text += SENTENCE.split()[i % 10] + " "
        if len(harrier.split_spans(text, engine, max_tokens=max_tokens)) == spans:
            return text
    raise AssertionError("no such text")


def _fields(record: harrier.SpanRecord) -> tuple[object, ...]:
    return (record.id, record.text, record.metadata, record.span_fields())


def stored_text(store: VectorStore, doc_id: str) -> str:
    return "".join(r.text for r in store.fetch_spans(doc_id))


class StoreContract:
    """The store behaviour tests; subclass it and provide the ``store_factory`` fixture."""

    filter_dimension = 8
    """The vector size of the filter table's collection."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """``(collection, folder) -> VectorStore``: the subclass provides it."""
        raise NotImplementedError("a StoreContract subclass provides the store_factory fixture")

    @pytest.fixture(scope="class")
    @classmethod
    def embedder(cls, tmp_path_factory: pytest.TempPathFactory) -> harrier.Embedder:
        """A tiny random Qwen3-shaped model (override to share one across test classes)."""
        from harrier.testing import tiny_embedder

        return tiny_embedder(tmp_path_factory.mktemp("contract-model"))

    @pytest.fixture
    def open_store(
        self, store_factory: StoreFactory, tmp_path: Path
    ) -> Iterator[Callable[..., VectorStore]]:
        """Opens a collection on a fresh store; the one opened before is closed first (embedded
        stores allow one client per folder), and every store is closed after the test."""
        opened: list[VectorStore] = []

        def open_collection(collection: str = "docs", folder: str = "store") -> VectorStore:
            for store in opened:
                store.close()
            opened.clear()
            (tmp_path / folder).mkdir(exist_ok=True)
            opened.append(store_factory(collection, tmp_path / folder))
            return opened[0]

        yield open_collection
        for store in opened:
            store.close()

    # -- ids, skip, replace, prune -----------------------------------------------------------
    def test_rerun_writes_nothing(self, open_store, embedder):
        docs = [SourceDocument(f"d{i}", SENTENCE * (i + 1), {"n": i}) for i in range(6)]
        store = open_store()
        first = harrier.ingest(docs, store, embedder, max_tokens=32)
        count = store.count()
        assert first.documents == 6 and first.spans_written == count > 6
        second = harrier.ingest(docs, store, embedder, max_tokens=32)
        assert (second.unchanged, second.spans_written, second.spans_deleted, second.tokens) == (
            6,
            0,
            0,
            0,
        )
        assert store.count() == count

    def test_changed_document_shrinks_from_five_spans_to_two(self, open_store, embedder):
        store = open_store()
        long_text = text_of_spans(embedder, 24, 5)
        harrier.ingest([SourceDocument("doc", long_text)], store, embedder, max_tokens=24)
        assert len(store.fetch_spans("doc")) == 5
        short_text = text_of_spans(embedder, 24, 2)
        report = harrier.ingest([SourceDocument("doc", short_text)], store, embedder, max_tokens=24)
        records = store.fetch_spans("doc")
        assert [r.span_index for r in records] == [0, 1]
        assert {r.span_count for r in records} == {2}
        assert "".join(r.text for r in records) == short_text
        assert (report.spans_written, report.spans_deleted) == (2, 3)
        assert store.count() == 2

    def test_document_ids_with_any_characters(self, open_store, embedder):
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
        harrier.ingest(docs, store, embedder)
        for doc in docs:
            assert stored_text(store, doc.id) == doc.text
        assert sorted(store.iter_doc_ids()) == sorted(ids)
        assert harrier.ingest(docs, store, embedder).unchanged == len(ids)

    def test_prune_removes_vanished_documents_only_when_asked(self, open_store, embedder):
        store = open_store()
        docs = [SourceDocument(f"d{i}", f"{SENTENCE} {i}") for i in range(4)]
        harrier.ingest(docs, store, embedder)
        kept = harrier.ingest(docs[:2], store, embedder)
        assert kept.documents_pruned == 0
        assert sorted(store.iter_doc_ids()) == ["d0", "d1", "d2", "d3"]
        pruned = harrier.ingest(docs[:2], store, embedder, prune=True)
        assert pruned.documents_pruned == 2 and sorted(store.iter_doc_ids()) == ["d0", "d1"]

    def test_changed_metadata_rewrites_the_document(self, open_store, embedder):
        store = open_store()
        harrier.ingest([SourceDocument("a", SENTENCE, {"v": 1})], store, embedder)
        report = harrier.ingest([SourceDocument("a", SENTENCE, {"v": 2})], store, embedder)
        assert report.spans_written == 1
        assert store.fetch_spans("a")[0].metadata == {"v": 2}

    def test_duplicate_ids_and_bad_metadata_are_skipped(self, open_store, embedder):
        docs = [
            SourceDocument("a", "first"),
            SourceDocument("a", "second"),
            SourceDocument("b", "x", {"when": object()}),
        ]
        store = open_store()
        report = harrier.ingest(docs, store, embedder)
        assert (report.documents, report.skipped) == (1, 2)
        assert stored_text(store, "a") == "first"

    # -- crash order -------------------------------------------------------------------------
    def test_interrupted_between_write_and_delete_leaves_a_complete_document(
        self, open_store, embedder, monkeypatch
    ):
        store = open_store()
        harrier.ingest(
            [SourceDocument("doc", text_of_spans(embedder, 24, 5))],
            store,
            embedder,
            max_tokens=24,
        )
        new_text = text_of_spans(embedder, 24, 2)

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("process died before deleting stale spans")

        monkeypatch.setattr(type(store), "delete_stale", crash)
        with pytest.raises(RuntimeError):
            harrier.ingest([SourceDocument("doc", new_text)], store, embedder, max_tokens=24)
        monkeypatch.undo()
        records = store.fetch_spans("doc")
        new_hash = records[0].doc_hash
        current = [r for r in records if r.doc_hash == new_hash]
        assert "".join(r.text for r in current) == new_text  # the new version is whole
        assert [r.span_index for r in current] == [0, 1]
        assert all(r.span_index >= 2 for r in records if r.doc_hash != new_hash)
        report = harrier.ingest([SourceDocument("doc", new_text)], store, embedder, max_tokens=24)
        assert report.spans_deleted == 3
        assert stored_text(store, "doc") == new_text and store.count() == 2

    # -- search and copy ---------------------------------------------------------------------
    def test_search_ranks_like_brute_force(self, open_store, embedder):
        texts = [f"{word} {SENTENCE}" for word in ("alpha", "beta", "gamma", "delta", "epsilon")]
        store = open_store()
        index = harrier.Index(store, embedder)
        index.ingest([SourceDocument(f"d{i}", t, {"i": i}) for i, t in enumerate(texts)])
        hits = index.search("gamma rivers", k=3, mode="dense")
        scores = embedder.embed_documents(texts) @ embedder.embed_queries(["gamma rivers"])[0]
        expected = [f"d{i}" for i in np.argsort(-scores)[:3]]
        assert [h.doc_id for h in hits] == expected
        np.testing.assert_allclose([h.score for h in hits], np.sort(scores)[::-1][:3], atol=1e-5)
        assert hits[0].text == texts[int(expected[0][1:])]
        assert (hits[0].start, hits[0].end) == (0, len(hits[0].text))
        only = index.search("gamma rivers", k=5, filter={"i": 3}, mode="dense")
        assert [h.doc_id for h in only] == ["d3"] and only[0].metadata == {"i": 3}

    def test_a_copy_to_another_store_arrives_whole_once(self, store_factory, tmp_path, embedder):
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        source, target = (
            store_factory("docs", tmp_path / "a"),
            store_factory("docs", tmp_path / "b"),
        )
        try:
            docs = [SourceDocument(f"d{i}", SENTENCE * (i + 1), {"i": i}) for i in range(5)]
            harrier.ingest(docs, source, embedder, max_tokens=24)
            spans = source.count()
            report = harrier.copy_collection(source, target, batch_size=7)
            assert (report.spans, report.copied) == (spans, spans)
            again = harrier.copy_collection(source, target, batch_size=7)
            assert (again.copied, again.already_there) == (0, spans)
            assert target.collection_model() == source.collection_model()
            for doc in docs:  # every field; vectors as stored (a store may renormalise)
                copied, original = target.fetch_spans(doc.id), source.fetch_spans(doc.id)
                assert [_fields(r) for r in copied] == [_fields(r) for r in original]
                np.testing.assert_allclose(
                    [r.vector for r in copied], [r.vector for r in original], atol=1e-6
                )
        finally:
            source.close()
            target.close()

    # -- hybrid ------------------------------------------------------------------------------
    @pytest.fixture
    def hybrid_index(self, open_store, embedder) -> harrier.Index:
        built = harrier.Index(open_store(), embedder)
        built.ingest([SourceDocument(i, t, {"lang": i[:2]}) for i, t in CORPUS.items()])
        if not built.store.has_sparse_vectors():
            pytest.skip("this store makes no BM25 vectors: dense search only")
        return built

    def test_a_query_word_finds_its_span_first_in_every_script(self, hybrid_index):
        assert hybrid_index.resolve_mode() == "hybrid"
        for lang, (word, doc_id) in WORDS.items():
            assert hybrid_index.search(word, k=3, mode="sparse")[0].doc_id == doc_id, lang
            assert hybrid_index.search(word, k=3)[0].doc_id == doc_id, lang  # random dense model

    def test_the_filter_applies_to_both_arms(self, hybrid_index):
        for mode in ("sparse", "hybrid"):
            hits = hybrid_index.search("river library", k=5, mode=mode, filter={"lang": "en"})
            assert {h.doc_id for h in hits} <= {"en-1", "en-2"} and hits
        assert hybrid_index.search("天気", k=5, mode="sparse", filter={"lang": "fr"}) == []

    # -- filters -----------------------------------------------------------------------------
    @pytest.fixture
    def filter_store(self, open_store) -> VectorStore:
        store = open_store("filters")
        store.create_collection(CONTRACT_MODEL, self.filter_dimension)
        store.upsert(_filter_records(self.filter_dimension))
        return store

    def test_every_filter_of_the_table_finds_the_documented_ids(self, filter_store):
        """A filter the store can translate finds what docs/filters.md says; one with an
        operator outside ``supported_operators`` is a ConfigurationError naming it."""
        supported = filter_store.supported_operators
        assert supported and supported <= OPERATORS, "declare supported_operators on the store"
        query = np.ones(self.filter_dimension, dtype=np.float32)
        query /= math.sqrt(self.filter_dimension)
        found, wanted = {}, {}
        for number, flt in enumerate(FILTER_TABLE):
            unsupported = {c.op for c in conditions(parse_filter(flt))} - supported
            if unsupported:
                with pytest.raises(harrier.ConfigurationError, match=f"{min(unsupported)!r}"):
                    filter_store.search_vector(query, 3, filter=flt)
                continue
            hits = filter_store.search_vector(query, len(FILTER_METADATA), filter=flt)
            found[number] = sorted(h.doc_id for h in hits)
            wanted[number] = filter_reference(flt)
        wrong = {n: (FILTER_TABLE[n], found[n], wanted[n]) for n in found if found[n] != wanted[n]}
        assert wrong == {}, f"(filter, found, documented) by table row: {wrong}"

    def test_a_filter_applies_to_sparse_and_hybrid_search_alike(self, filter_store):
        if not filter_store.has_sparse_vectors():
            pytest.skip("this store makes no BM25 vectors")
        query = np.ones(self.filter_dimension, dtype=np.float32)
        flt = {"lang": ["en", "fr"]}
        sparse = filter_store.search_sparse("text", 20, filter=flt)
        assert sorted(h.doc_id for h in sparse) == filter_reference(flt)
        hybrid = filter_store.search_hybrid(query, "text", 20, filter=flt)
        assert sorted(h.doc_id for h in hybrid) == filter_reference(flt)

    # -- errors ------------------------------------------------------------------------------
    def test_a_bad_filter_is_a_configuration_error(self, filter_store):
        query = np.ones(self.filter_dimension, dtype=np.float32)
        with pytest.raises(harrier.ConfigurationError, match="'n'"):
            filter_store.search_vector(query, 3, filter={"n": float("nan")})
        with pytest.raises(harrier.ConfigurationError, match="'nest'"):
            filter_store.search_vector(query, 3, filter={"nest": {"b": 1}})

    def test_search_on_missing_collection_is_a_clear_error(self, open_store, embedder):
        with pytest.raises(harrier.StoreError, match="ingest into it first"):
            harrier.Index(open_store("nothing"), embedder).search("q")

    def test_dimension_mismatch_is_refused(self, open_store, embedder, tmp_path):
        from harrier.testing import SHAPES, build_model

        folder = build_model(
            tmp_path / "wide", SHAPES["tiny-qwen3"].__class__("qwen3", 96, 1, 4, 2, 24, 128, 1024)
        )
        wide = harrier.Embedder.from_pretrained(folder, device="cpu")
        store = open_store("wide")
        harrier.ingest([SourceDocument("a", SENTENCE)], store, wide)
        wide.model_name = embedder.model_name  # same name, other dimension
        with pytest.raises(harrier.CollectionMismatchError, match="dimension 96"):
            harrier.ingest([SourceDocument("a", SENTENCE)], store, embedder)
