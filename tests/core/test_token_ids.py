"""Tokenise once: ``_tokens.encode`` is the tokenizer's own encoding, and
``Embedder.embed_token_ids`` gives exactly the vectors of ``embed_documents``."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

import harrier
from harrier._tokens import encode


@pytest.fixture
def engine(model_path) -> harrier.Embedder:  # type: ignore[no-untyped-def]
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


def test_encode_equals_the_tokenizer_call(model_path, mixed_texts):
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    texts = [*mixed_texts, "", "<|endoftext|> and <bos> as text", "\u200b"]
    expected = tokenizer(texts, add_special_tokens=True)["input_ids"]
    assert [row.tolist() for row in encode(tokenizer, texts)] == expected
    # A backend left set to truncate (by another caller) is not used directly: still exact.
    tokenizer(texts, truncation=True, max_length=5)
    assert tokenizer.backend_tokenizer.truncation is not None
    assert [row.tolist() for row in encode(tokenizer, texts)] == expected


def test_token_ids_embed_exactly_as_the_texts(engine, mixed_texts):
    spans = [s for text in mixed_texts for s in harrier.split_spans(text, engine, max_tokens=40)]
    from_ids = engine.embed_token_ids([s.token_ids for s in spans])
    from_texts = engine.embed_documents([s.text for s in spans])
    assert len(spans) > len(mixed_texts)
    np.testing.assert_array_equal(from_ids, from_texts)
    as_lists = engine.embed_token_ids([s.token_ids.tolist() for s in spans[:3]])
    np.testing.assert_array_equal(as_lists, engine.embed_documents([s.text for s in spans[:3]]))


def test_bad_token_ids_are_refused_with_typed_errors(engine):
    ids = engine.tokenizer(["a sentence"], add_special_tokens=True)["input_ids"]
    special = engine.tokenizer([""], add_special_tokens=True)["input_ids"][0]
    with pytest.raises(harrier.TextTooLongError, match="index 1"):
        engine.embed_token_ids([ids[0], ids[0] * engine.max_tokens])
    with pytest.raises(harrier.InputError, match="outside the model's vocabulary"):
        engine.embed_token_ids([[*ids[0], 10**6]])
    with pytest.raises(harrier.InputError, match="outside the model's vocabulary"):
        engine.embed_token_ids([[-1, *ids[0]]])
    with pytest.raises(harrier.EmptyTextError):
        engine.embed_token_ids([special])
    with pytest.raises(harrier.InputTypeError, match="input is a ndarray, expected a list of id"):
        engine.embed_token_ids(np.array(ids[0]))
    with pytest.raises(harrier.InputTypeError, match="index 0 is a str, expected a list of int"):
        engine.embed_token_ids(["a text"])
    with pytest.raises(harrier.InputTypeError, match="is a list, expected a flat list of int"):
        engine.embed_token_ids([[0.5, 1.5]])
    assert engine.embed_token_ids([]).shape == (0, engine.dimension)
