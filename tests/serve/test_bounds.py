"""The server's bounded tokenisation against tokenising the whole text (the model's tokenizer,
as transformers calls it): the same truncated ids, a true lower bound, a true "over"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from harrier.serve._tokenizer import ServeTokenizer

PIECES = [
    *"abcdefgh xyz  \n\t.,;:!?'",
    "\u0301",
    "\u0308",
    "é",
    "机器",
    "🙂",
    "ﷺ",
    "İ",
    "  ",
    "'s",
    "123",
    "<|endoftext|>",
    "<bos>",
    "<eos>",
    "aaaaaaaa",
    "\u200d",
]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=300).map("".join)


@pytest.fixture(scope="module", params=["tiny-qwen3", "tiny-gemma3"])
def tokenizers(request: pytest.FixtureRequest, model_dir: dict[str, Path]) -> tuple[Any, Any]:
    reference = AutoTokenizer.from_pretrained(model_dir[request.param])
    # a margin of 2 tokens (64 when serving) so that the prefix is cut close to what is kept
    return reference, ServeTokenizer(reference, margin_tokens=2)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=TEXTS, limit=st.integers(2, 40))
def test_bounded_truncation_equals_truncating_everything(
    tokenizers: tuple[Any, Any], text: str, limit: int
) -> None:
    reference, served = tokenizers
    whole = reference(text, truncation=True, max_length=limit)["input_ids"]
    row, exact = served.bounded(text, limit, truncate=True)
    assert row.tolist() == whole and exact


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=TEXTS, limit=st.integers(2, 40))
def test_counts_are_exact_under_the_limit_and_over_means_over(
    tokenizers: tuple[Any, Any], text: str, limit: int
) -> None:
    reference, served = tokenizers
    count = len(reference(text)["input_ids"])
    assert served.min_tokens(text) <= count
    row, exact = served.bounded(text, limit, truncate=False)
    if count <= limit:
        assert exact and row.tolist() == reference(text)["input_ids"]
    else:
        assert len(row) > limit and (not exact or len(row) == count)


@pytest.mark.parametrize(
    "text", ["a" * 200_000, "e" + "\u0301" * 10_000, "abc " * 50_000, "🙂" * 30_000]
)
def test_adversarial_texts_truncate_from_a_prefix(tokenizers: tuple[Any, Any], text: str) -> None:
    reference, served = tokenizers
    row, _ = served.bounded(text, 256, truncate=True)
    assert row.tolist() == reference(text[:5000], truncation=True, max_length=256)["input_ids"]
    assert reference(text[:5000])["input_ids"][:255] == reference(text)["input_ids"][:255]
