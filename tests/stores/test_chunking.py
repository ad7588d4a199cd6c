"""The one chunker: store requests (documents kept whole when they fit), splitter pieces and
Milvus rows all go through ``size_bounded_groups``."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from harrier._batching import size_bounded, size_bounded_groups

groups_of_sizes = st.lists(st.lists(st.integers(1, 60), max_size=6), max_size=8)


@settings(max_examples=300, deadline=None)
@given(groups=groups_of_sizes, budget=st.integers(1, 120), max_count=st.integers(1, 7))
def test_chunks_keep_order_bounds_and_whole_groups(groups, budget, max_count):
    items = [(g, i, size) for g, group in enumerate(groups) for i, size in enumerate(group)]
    tagged = [[item for item in items if item[0] == g] for g in range(len(groups))]
    chunks = list(size_bounded_groups(tagged, lambda item: item[2], budget, max_count=max_count))
    assert [item for chunk in chunks for item in chunk] == items
    for chunk in chunks:
        assert chunk and len(chunk) <= max_count
        assert len(chunk) == 1 or sum(item[2] for item in chunk) <= budget
    fits = {g for g, group in enumerate(groups) if len(group) <= max_count and sum(group) <= budget}
    for g in fits:  # a group that fits one request is never split
        assert sum(any(item[0] == g for item in chunk) for chunk in chunks) <= 1
    for first, second in itertools.pairwise(chunks):  # a chunk closes only when full
        nxt = second[0]
        whole = tagged[nxt[0]] if nxt[1] == 0 else [nxt]
        full = len(first) + len(whole) > max_count or sum(i[2] for i in first + whole) > budget
        assert full


@given(sizes=st.lists(st.integers(1, 60), max_size=30), budget=st.integers(1, 120))
def test_size_bounded_fills_each_chunk_up_to_the_budget(sizes, budget):
    chunks = list(size_bounded(sizes, int, budget))
    assert [size for chunk in chunks for size in chunk] == sizes
    assert all(len(chunk) == 1 or sum(chunk) <= budget for chunk in chunks)
    assert all(sum(a) + b[0] > budget for a, b in itertools.pairwise(chunks))
