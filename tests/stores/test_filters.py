"""The filter description itself (docs/filters.md); the table of filters every store runs is in
harrier.testing.StoreContract (tests/stores/test_contract.py)."""

from __future__ import annotations

import pytest

import harrier
from harrier.stores.filters import AllOf, AnyOf, Condition, parse_filter
from harrier.testing.store_contract import FILTER_METADATA, FILTER_TABLE, filter_reference


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


def test_milvus_refuses_a_text_match_it_cannot_escape(tmp_path):
    from harrier_milvus._expr import metadata_filter

    for text in ("100%", "snake_case", "back\\slash"):
        with pytest.raises(harrier.ConfigurationError, match="text_match"):
            metadata_filter(Condition("title", "text_match", text))


def test_the_reference_reads_the_table_as_documented():
    assert filter_reference({"n": 3}) == ["d0", "d1"]
    assert filter_reference(Condition("n", "!=", 3)) == ["d2", "d3", "d4", "d6"]
    assert filter_reference({"a.b": 5}) == []
    assert filter_reference({"flag": True}) == ["d0", "d2"]
    every = sorted(FILTER_METADATA)
    assert all(filter_reference(flt) != every for flt in FILTER_TABLE)  # each one selects


def test_a_dict_is_an_all_of_equalities_and_a_list_any_of():
    assert parse_filter({"a": 1, "b.c": ["x", 2]}) == AllOf(
        (Condition("a", "==", 1), Condition("b.c", "in", ("x", 2)))
    )
    flt = AnyOf((Condition("a", "==", 1),))
    assert parse_filter(flt) is flt and parse_filter(None) is None
