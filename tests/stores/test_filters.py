"""One table of filters on every store: the ids each store finds equal a plain Python reading
of the filter over the stored metadata (docs/filters.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import harrier
from fault_harness import SYNTHETIC_MODEL
from harrier.stores.filters import AllOf, AnyOf, Condition, parse_filter

DIM = 8
METADATA: dict[str, dict[str, Any]] = {
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

TABLE: list[Any] = [
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

_MISSING = object()


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
    """The reference: docs/filters.md read literally, over Python values."""
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


def expected(flt: Any) -> list[str]:
    parsed = parse_filter(flt)
    return sorted(doc for doc, metadata in METADATA.items() if _holds(metadata, parsed))


def _records() -> list[harrier.SpanRecord]:
    rng = np.random.default_rng(0)
    records = []
    for doc_id, metadata in METADATA.items():
        vector = rng.standard_normal(DIM).astype(np.float32)
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
                model="m",
                metadata=metadata,
            )
        )
    return records


@pytest.fixture
def filled(open_store):
    store = open_store("docs")
    store.create_collection(SYNTHETIC_MODEL, DIM)
    store.upsert(_records())
    return store


def test_the_reference_reads_the_table_as_documented():
    assert expected({"n": 3}) == ["d0", "d1"]
    assert expected(Condition("n", "!=", 3)) == ["d2", "d3", "d4", "d6"]
    assert expected({"a.b": 5}) == []
    assert all(expected(flt) != sorted(METADATA) for flt in TABLE)  # each one selects


def test_every_store_finds_the_same_ids_for_every_filter(filled):
    query = np.ones(DIM, dtype=np.float32) / math.sqrt(DIM)
    found, wanted = {}, {}
    for number, flt in enumerate(TABLE):
        hits = filled.search_vector(query, len(METADATA), filter=flt)
        found[number] = sorted(h.doc_id for h in hits)
        wanted[number] = expected(flt)
    wrong = {n: (TABLE[n], found[n], wanted[n]) for n in found if found[n] != wanted[n]}
    assert wrong == {}


def test_every_store_declares_every_operator_it_translates(filled):
    assert filled.supported_operators == {
        "==",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "in",
        "nin",
        "text_match",
    }


def test_a_filter_applies_to_sparse_and_hybrid_search_alike(filled):
    query = np.ones(DIM, dtype=np.float32) / math.sqrt(DIM)
    flt = {"lang": ["en", "fr"]}
    assert sorted(h.doc_id for h in filled.search_sparse("text", 20, filter=flt)) == expected(flt)
    hybrid = filled.search_hybrid(query, "text", 20, filter=flt)
    assert sorted(h.doc_id for h in hybrid) == expected(flt)


@pytest.mark.parametrize(
    ("flt", "named"),
    [
        ({"a": {"b": 1}}, "'a'"),
        ({"a": None}, "'a'"),
        ({"a": float("nan")}, "'a'"),
        ({"a": float("inf")}, "'a'"),
        ({"": 1}, "''"),
        ({1: 2}, "1"),
        ({"a": []}, "'a'"),
        ({"a": [1, [2]]}, "'a'"),
        ({"a..b": 1}, "'a..b'"),
        ({'a"b': 1}, "'a\"b'"),
        ({}, "empty"),
        ("lang == en", "str"),
    ],
)
def test_a_filter_that_means_nothing_is_refused_naming_the_key(flt, named):
    with pytest.raises(harrier.ConfigurationError, match=named):
        parse_filter(flt)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("n", ">", "x"), "compares numbers"),
        (("n", ">", True), "compares numbers"),
        (("n", "like", "x"), "unknown operator 'like'"),
        (("n", "in", 3), "non-empty list"),
        (("n", "text_match", 3), "non-empty string"),
    ],
)
def test_a_condition_checks_its_value_for_its_operator(args, named):
    with pytest.raises(harrier.ConfigurationError, match=named):
        Condition(*args)


def test_a_bad_filter_is_a_configuration_error_on_every_store(filled):
    query = np.ones(DIM, dtype=np.float32) / math.sqrt(DIM)
    with pytest.raises(harrier.ConfigurationError, match="'n'"):
        filled.search_vector(query, 3, filter={"n": float("nan")})
    with pytest.raises(harrier.ConfigurationError, match="'nest'"):
        filled.search_vector(query, 3, filter={"nest": {"b": 1}})


def test_milvus_refuses_a_text_match_it_cannot_escape(tmp_path):
    from harrier_milvus._expr import metadata_filter

    for text in ("100%", "snake_case", "back\\slash"):
        with pytest.raises(harrier.ConfigurationError, match="text_match"):
            metadata_filter(Condition("title", "text_match", text))
