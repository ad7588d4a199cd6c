"""Spans are exactly what the one-text-at-a-time splitter (before issue 15) produced, whether
texts are split alone or many at once, and each span's ids are its text's own encoding.

``data/split_golden.json.gz`` was written by that splitter (run this module as a script to see
how); the corpus and tokenizers are rebuilt here deterministically, so any change in starts,
ends, token counts or the number of spans shows up as a difference.
"""

from __future__ import annotations

import gzip
import json
import random
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import harrier
from harrier.testing import train_tokenizer

GOLDEN = Path(__file__).parent / "data" / "split_golden.json.gz"
SETTINGS = [(4096, 0), (64, 0), (64, 8), (17, 0), (300, 40), (9, 2)]
_PARTS = [
    "Retrieval augmented generation needs good embeddings.",
    "Sentence {i} ends here!",
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。",
    "東京は日本の首都です。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "Быстрая коричневая лиса {i}.",
    "def f_{i}(x):\n    return x * 2  # 🙂🚀\n",
    "naïve café e\u0301 über",
    "\n\n",
    "\n",
    " ",
    "      ",
    "\t",
    "👨\u200d👩\u200d👧",
    "3.14159 e.g. ±×÷→✓",
    "word" * 30,
    "。」",
    "? ",
]


def corpus() -> list[str]:
    """Texts from empty to about 40,000 characters, in many scripts, with odd boundaries."""
    rng = random.Random(15)
    texts = ["", " ", "\n\n", "a", "🙂", "<|endoftext|>", "hello world"]
    for size in [3, 10, 40, 120, 400, 1_500, 6_000, 40_000]:
        for _ in range(3):
            parts, total, i = [], 0, 0
            while total < size:
                part = rng.choice(_PARTS).format(i=i)
                parts.append(part)
                total, i = total + len(part), i + 1
            texts.append("".join(parts)[:size])
    return texts


@cache
def tokenizer(model_type: str):  # type: ignore[no-untyped-def]
    return train_tokenizer(model_type)


def spans_of(model_type: str, together: bool = False) -> dict[str, list[list[list[int]]]]:
    """Per setting, per text: ``[start, end, token_count]`` of each span; each text split alone
    with ``split_spans``, or all at once by one ``Splitter``."""
    out = {}
    for limit, overlap in SETTINGS:
        if together:
            splitter = harrier.Splitter(
                tokenizer(model_type), max_tokens=limit, overlap_tokens=overlap
            )
            per_text = splitter.split_many(corpus())
        else:
            per_text = [
                harrier.split_spans(
                    text, tokenizer(model_type), max_tokens=limit, overlap_tokens=overlap
                )
                for text in corpus()
            ]
        out[f"{limit}/{overlap}"] = [
            [[s.start, s.end, s.token_count] for s in spans] for spans in per_text
        ]
    return out


@pytest.mark.parametrize("together", [False, True], ids=["alone", "split_many"])
@pytest.mark.parametrize("model_type", ["qwen3", "gemma3_text"])
def test_spans_equal_the_previous_splitter(model_type: str, together: bool) -> None:
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))[model_type]
    now = spans_of(model_type, together)
    assert sum(len(spans) for per_text in golden.values() for spans in per_text) > 1_000
    for setting, per_text in golden.items():
        for i, spans in enumerate(per_text):
            assert now[setting][i] == spans, (setting, i, corpus()[i][:60])


@pytest.mark.parametrize("model_type", ["qwen3", "gemma3_text"])
def test_span_ids_are_the_encoding_of_the_span_alone(model_type: str) -> None:
    """The ids handed to the engine are what the tokenizer gives for the span's text."""
    tok = tokenizer(model_type)
    for limit, overlap in [(4096, 0), (17, 0), (300, 40)]:
        splitter = harrier.Splitter(tok, max_tokens=limit, overlap_tokens=overlap)
        spans = [s for per_text in splitter.split_many(corpus()) for s in per_text]
        expected = tok([s.text for s in spans], add_special_tokens=True)["input_ids"]
        assert len(spans) > 40
        for span, ids in zip(spans, expected, strict=True):
            assert span.token_ids is not None and span.token_ids.dtype == np.int32
            assert span.token_ids.tolist() == ids and span.token_count == len(ids)


if __name__ == "__main__":  # how the golden file was written (by the splitter of c8cc42a)
    data = {m: spans_of(m) for m in ["qwen3", "gemma3_text"]}
    GOLDEN.write_bytes(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0))
