"""``split_spans``: every span fits when encoded alone, spans tile the text, boundaries are sane.

Every check is against the real tokenizer (each span encoded alone, special tokens included, as
the engine encodes a document) or against the original text, never against the splitter itself.
"""

from __future__ import annotations

import time
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

import harrier
import harrier._spans as spans_module

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_PIECES = [
    "Paris is the capital of France",
    "über",
    "naïve café",
    "word",
    "The",
    "quick",
    "brown",
    "机器学习是人工智能的一个分支",
    "東京は日本の首都です",
    "검색 증강 생성",
    "向量数据库",
    "الثعلب البني السريع",
    "يقفز",
    "Быстрая лиса",
    "🙂",
    "🚀🔥",
    "👨\u200d👩\u200d👧",
    "e\u0301",
    "±×÷→✓",
    "def f(x):\n    return x * 2\n",
    "{ total += v[i]; }",
    "3.14159",
    "e.g.",
    ". ",
    "! ",
    "? ",
    ".",
    "。",
    "！",
    "？",
    "؟ ",
    "\n",
    "\n\n",
    "\n\n\n",
    " ",
    "\t",
    "\u3000",
    "\r\n",
    '." ',
    "」。",
]
_FRAGMENT = st.one_of(
    st.sampled_from(_PIECES),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=6),
    st.text(st.sampled_from(" \t\n\u00a0\u3000"), min_size=1, max_size=80),  # whitespace runs
    st.tuples(st.sampled_from(_PIECES), st.integers(2, 30)).map(lambda p: p[0] * p[1]),
)
TEXTS = st.lists(_FRAGMENT, max_size=50).map("".join)


@cache
def _tokenizer(path: Path):  # type: ignore[no-untyped-def]
    return AutoTokenizer.from_pretrained(path)


def _encoded_alone(tokenizer, texts: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Counts as the engine counts a document: special tokens included."""
    ids = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [len(row) for row in ids]


def _special(tokenizer) -> int:  # type: ignore[no-untyped-def]
    return len(tokenizer("", add_special_tokens=True)["input_ids"])


def _check_spans(spans: list[harrier.Span], text: str, tokenizer, limit: int) -> None:  # type: ignore[no-untyped-def]
    assert [s.index for s in spans] == list(range(len(spans)))
    for s in spans:
        assert s.text and s.start < s.end
        assert s.text == text[s.start : s.end]
    if spans:
        real = _encoded_alone(tokenizer, [s.text for s in spans])
        assert real == [s.token_count for s in spans]
        assert max(real) <= limit


def _check_tiling(spans: list[harrier.Span], text: str) -> None:
    assert "".join(s.text for s in spans) == text
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(b.start == a.end for a, b in pairwise(spans))


# -- properties over multilingual text ---------------------------------------------------------
@PROPERTY
@given(text=TEXTS, room=st.integers(4, 60), piece=st.sampled_from([None, 7, 64]))
def test_spans_fit_and_tile(model_path, monkeypatch, text, room, piece):
    tokenizer = _tokenizer(model_path)
    limit = _special(tokenizer) + room  # room >= 4: any code point fits (<= 4 byte tokens)
    if piece is not None:  # tokenise the text in tiny pieces, as a huge text would be
        monkeypatch.setattr(spans_module, "_PIECE_CHARS", piece)
    spans = harrier.split_spans(text, tokenizer, max_tokens=limit)
    _check_spans(spans, text, tokenizer, limit)
    if not text:
        assert spans == []
    else:  # a byte-level tokenizer gives every character tokens
        _check_tiling(spans, text)
    assert harrier.split_spans(text, tokenizer, max_tokens=limit) == spans  # deterministic


@PROPERTY
@given(text=TEXTS, room=st.integers(6, 60), fraction=st.floats(0.05, 0.9))
def test_overlapping_spans_fit_and_cover(model_path, text, room, fraction):
    tokenizer = _tokenizer(model_path)
    limit, overlap = _special(tokenizer) + room, max(1, int(room * fraction))
    spans = harrier.split_spans(text, tokenizer, max_tokens=limit, overlap_tokens=overlap)
    _check_spans(spans, text, tokenizer, limit)
    if text:
        assert spans[0].start == 0 and spans[-1].end == len(text)
    for a, b in pairwise(spans):
        assert a.start < b.start <= a.end  # no gap, always moving on
        assert a.end < b.end


@cache
def _metaspace_tokenizer():  # type: ignore[no-untyped-def]
    """A SentencePiece-style BPE (``▁`` for spaces, prefixed to every text, byte fallback)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    tok.decoder = decoders.Metaspace(prepend_scheme="always")
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=800, show_progress=False, special_tokens=["<unk>", "<s>", "</s>", *byte_tokens]
    )
    tok.train_from_iterator([*_PIECES, PROSE] * 4, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


@settings(max_examples=40, deadline=None)
@given(text=TEXTS, room=st.integers(5, 60), overlap=st.integers(0, 3))
def test_a_sentencepiece_style_tokenizer(text, room, overlap):
    """Each span encoded alone gets its own leading ``▁``: counts differ from the slices.

    ``room >= 5``: one code point can take ``▁`` plus four byte tokens.
    """
    tokenizer = _metaspace_tokenizer()
    limit = _special(tokenizer) + room
    spans = harrier.split_spans(text, tokenizer, max_tokens=limit, overlap_tokens=overlap)
    _check_spans(spans, text, tokenizer, limit)
    if text and not overlap:
        _check_tiling(spans, text)


# -- overlap amount, boundaries ----------------------------------------------------------------
PROSE = " ".join(
    f"Sentence number {i} talks about retrieval, embeddings and the capital of France."
    + ("\n\n" if i % 5 == 4 else "")
    for i in range(120)
)


@pytest.mark.parametrize("overlap", [4, 10, 24])
def test_overlap_is_about_the_asked_tokens(model_path, overlap):
    tokenizer = _tokenizer(model_path)
    spans = harrier.split_spans(PROSE, tokenizer, max_tokens=64, overlap_tokens=overlap)
    assert len(spans) > 10
    _check_spans(spans, PROSE, tokenizer, 64)
    shared = [PROSE[b.start : a.end] for a, b in pairwise(spans)]
    counts = tokenizer(shared, add_special_tokens=False)["input_ids"]
    for count in map(len, counts):  # at least the overlap, moved back to a word start if near
        assert overlap - 2 <= count <= overlap + overlap // 8 + 2


def test_paragraph_end_beats_a_later_sentence_end(model_path):
    tokenizer = _tokenizer(model_path)
    head = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu " * 4
    text = head + "End of the paragraph.\n\nShort one. Then words go on and on " * 1 + "x " * 60
    upto = text.index("Then words go on") + len("Then words")  # window ends after both
    limit = _encoded_alone(tokenizer, [text[:upto]])[0]
    spans = harrier.split_spans(text, tokenizer, max_tokens=limit)
    assert spans[0].end == text.index("\n\n") + 2  # after the blank line, not after "one."
    assert spans[0].text.endswith("paragraph.\n\n")
    _check_tiling(spans, text)


def test_sentence_end_beats_whitespace(model_path):
    tokenizer = _tokenizer(model_path)
    text = "word " * 50 + "The end of it. More words follow here " + "word " * 60
    upto = text.index("More words follow") + len("More words")
    limit = _encoded_alone(tokenizer, [text[:upto]])[0]
    spans = harrier.split_spans(text, tokenizer, max_tokens=limit)
    assert spans[0].end == text.index("it.") + 3  # right after the full stop
    _check_tiling(spans, text)


def test_ideographic_full_stop_ends_sentences(model_path):
    tokenizer = _tokenizer(model_path)
    text = "机器学习是人工智能的一个分支。向量数据库存储嵌入。今天天气很好！东京是日本的首都。" * 30
    spans = harrier.split_spans(text, tokenizer, max_tokens=48)
    assert len(spans) > 3
    _check_spans(spans, text, tokenizer, 48)
    _check_tiling(spans, text)
    assert all(s.text[-1] in "。！" for s in spans)


def test_without_boundaries_cuts_at_tokens_never_inside_a_character(model_path):
    tokenizer = _tokenizer(model_path)
    text = "🙂🚀🔥机器학습ملخص" * 80  # no spaces or punctuation; multi-token characters
    for limit in (6, 7, 13, 50):
        spans = harrier.split_spans(text, tokenizer, max_tokens=limit)
        _check_spans(spans, text, tokenizer, limit)
        _check_tiling(spans, text)
        for s in spans:  # whole characters: each span round-trips through UTF-8 bytes
            assert s.text.encode("utf-8").decode("utf-8") == s.text


def test_whitespace_cut_puts_the_space_before_the_next_word(model_path):
    tokenizer = _tokenizer(model_path)
    text = "plain words without any full stops " * 40
    spans = harrier.split_spans(text, tokenizer, max_tokens=20)
    _check_tiling(spans, text)
    assert all(text[s.end] == " " and text[s.end - 1] != " " for s in spans[:-1])


# -- the engine's view: special tokens, embedders, defaults ------------------------------------
def test_spans_embed_without_error_and_count_as_the_embedder(model_path):
    engine = harrier.Embedder.from_pretrained(model_path, device="cpu", max_tokens=32)
    spans = harrier.split_spans(PROSE[:3000], engine)  # max_tokens from the embedder
    assert len(spans) > 5
    texts = [s.text for s in spans]
    assert engine.count_tokens(texts) == [s.token_count for s in spans]
    assert max(s.token_count for s in spans) <= 32
    assert engine.embed_documents(texts).shape == (len(spans), engine.dimension)


def test_special_tokens_are_counted(gemma_path, qwen_path):
    for path in (gemma_path, qwen_path):
        tokenizer = _tokenizer(path)
        first = tokenizer("hello world", add_special_tokens=True)["input_ids"]
        plain = tokenizer("hello world", add_special_tokens=False)["input_ids"]
        assert len(first) == len(plain) + 1  # <bos> before (gemma) or <|endoftext|> after (qwen)
        spans = harrier.split_spans(PROSE, tokenizer, max_tokens=16)
        _check_spans(spans, PROSE, tokenizer, 16)
        assert max(s.token_count for s in spans) == 16  # windows are filled up to the limit


def test_default_limit_from_the_tokenizer(qwen_path):
    tokenizer = AutoTokenizer.from_pretrained(qwen_path)
    tokenizer.model_max_length = 40
    spans = harrier.split_spans(PROSE, tokenizer)
    _check_spans(spans, PROSE, tokenizer, 40)
    tokenizer.model_max_length = int(1e30)  # what Hugging Face sets when it does not know
    text = "zq 🙂🚀. " * 5000
    assert _encoded_alone(tokenizer, [text])[0] > 32_768
    spans = harrier.split_spans(text, tokenizer)
    assert len(spans) == 2
    _check_spans(spans, text, tokenizer, 32_768)


def test_empty_and_whitespace_only(model_path):
    tokenizer = _tokenizer(model_path)
    assert harrier.split_spans("", tokenizer, max_tokens=8) == []
    for text in (" ", "  \n\n\t ", "\u3000" * 3):
        spans = harrier.split_spans(text, tokenizer, max_tokens=8)
        assert [s.text for s in spans] == [text]
        assert spans[0].token_count == _encoded_alone(tokenizer, [text])[0]
    long_run = " " * 3000 + "\n" * 500 + "word"
    spans = harrier.split_spans(long_run, tokenizer, max_tokens=10)
    _check_spans(spans, long_run, tokenizer, 10)
    _check_tiling(spans, long_run)


def test_spans_are_frozen(qwen_path):
    span = harrier.split_spans("hello", _tokenizer(qwen_path), max_tokens=8)[0]
    assert (span.text, span.start, span.end, span.index) == ("hello", 0, 5, 0)
    with pytest.raises(AttributeError):
        span.text = "x"  # type: ignore[misc]


def test_real_counts_over_the_estimate_shorten_the_span(model_path, monkeypatch, caplog):
    """Offsets that merge every two tokens into one: only the real counts keep spans in limits."""
    real = spans_module._offsets_many

    def merged(tokenizer, texts):  # type: ignore[no-untyped-def]
        out = []
        for starts, ends in real(tokenizer, texts):
            pair_ends = np.append(ends[1::2], ends[-1]) if len(ends) % 2 else ends[1::2]
            out.append((starts[::2], pair_ends))
        return out

    monkeypatch.setattr(spans_module, "_offsets_many", merged)
    tokenizer = _tokenizer(model_path)
    with caplog.at_level("DEBUG", logger="harrier"):
        spans = harrier.split_spans(PROSE, tokenizer, max_tokens=24)
    assert "shortened" in caplog.text
    _check_spans(spans, PROSE, tokenizer, 24)
    _check_tiling(spans, PROSE)


# -- errors --------------------------------------------------------------------------------------
def test_invalid_settings_raise_configuration_error(model_path):
    tokenizer = _tokenizer(model_path)
    special = _special(tokenizer)
    cases = [
        (dict(max_tokens=16, overlap_tokens=16), "overlap_tokens"),
        (dict(max_tokens=16, overlap_tokens=40), "overlap_tokens"),
        (dict(max_tokens=16, overlap_tokens=-1), "overlap_tokens"),
        (dict(max_tokens=special), "max_tokens"),
        (dict(max_tokens=0), "max_tokens"),
    ]
    for kwargs, word in cases:
        for text in ("", "some text"):  # checked even for empty text
            with pytest.raises(harrier.ConfigurationError, match=word):
                harrier.split_spans(text, tokenizer, **kwargs)


def test_limits_of_an_embedder_and_of_one_character(qwen_path):
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_tokens=32)
    with pytest.raises(harrier.ConfigurationError, match="max_tokens=33"):
        harrier.split_spans("text", engine, max_tokens=33)
    tokenizer = engine.tokenizer
    emoji = "🙂"
    assert len(tokenizer(emoji, add_special_tokens=False)["input_ids"]) > 1
    with pytest.raises(harrier.ConfigurationError, match="offset 3"):
        harrier.split_spans("abc" + emoji, tokenizer, max_tokens=_special(tokenizer) + 1)


def test_wrong_types(qwen_path):
    with pytest.raises(harrier.ConfigurationError, match="fast tokenizer"):
        harrier.split_spans("text", object())
    with pytest.raises(harrier.InputTypeError) as info:
        harrier.split_spans(b"bytes", _tokenizer(qwen_path))  # type: ignore[arg-type]
    assert str(info.value) == "the input is a bytes, expected str: split_spans takes one text"
    with pytest.raises(harrier.InputTypeError, match="index 1"):
        harrier.Splitter(_tokenizer(qwen_path)).split_many(["ok", None])  # type: ignore[list-item]


# -- large texts ---------------------------------------------------------------------------------
def _big_text(size: int) -> str:
    unit = PROSE + "\n\n" + "机器学习是人工智能的一个分支。向量数据库存储嵌入。" * 20 + "\n\n"
    unit += "الثعلب البني السريع يقفز فوق الكلب الكسول. " * 10 + "🙂🚀 def f(x): return x\n"
    return (unit * (size // len(unit) + 1))[:size]


def test_a_text_larger_than_one_tokenisation_piece(qwen_path):
    tokenizer = _tokenizer(qwen_path)
    text = _big_text(600_000)  # over two of the 256k-character pieces
    spans = harrier.split_spans(text, tokenizer, max_tokens=512)
    _check_spans(spans, text, tokenizer, 512)
    _check_tiling(spans, text)


@pytest.mark.slow
def test_ten_megabytes_within_one_and_a_half_tokenizer_passes(qwen_path):
    tokenizer = _tokenizer(qwen_path)
    text = _big_text(10_000_000)
    ratios, spans = [], []
    for _ in range(2):
        spans = []  # nothing large alive while timing (it slows the tokenizer down)
        t0 = time.perf_counter()
        tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        t1 = time.perf_counter()
        spans = harrier.split_spans(text, tokenizer, max_tokens=512)
        ratios.append((time.perf_counter() - t1) / (t1 - t0))
    assert min(ratios) <= 1.5, ratios
    _check_spans(spans, text, tokenizer, 512)
    _check_tiling(spans, text)
