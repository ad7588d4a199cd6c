"""harrier's BM25 text preparation: usable terms in every script, identically for all stores."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harrier
from harrier.stores.bm25 import _CJK, MAX_TERM_CHARS, document_terms, normalize, query_terms


def test_cjk_runs_become_characters_and_bigrams():
    assert document_terms("東京の天気") == [
        "東",
        "京",
        "の",
        "天",
        "気",
        "東京",
        "京の",
        "の天",
        "天気",
    ]
    assert query_terms("天気") == ["天気"]
    assert query_terms("雨") == ["雨"]
    assert query_terms("明天北京") == ["明天", "天北", "北京"]


def test_words_are_folded_and_cut_at_non_word_characters():
    assert document_terms("L'Élévation, à PARIS!") == ["l", "elevation", "a", "paris"]
    assert document_terms("Москва, ёлка") == ["москва", "елка"]
    assert document_terms("الطَّقْسُ") == ["الطقس"]  # Arabic vowel marks removed
    assert document_terms("Straße ﬁn") == ["strasse", "fin"]  # case-folded, NFKC
    assert document_terms("mixed東京text") == ["mixed", "東", "京", "東京", "text"]


def test_kana_voicing_marks_are_kept():
    assert normalize("ガギ ｶﾞ") == "ガギ ガ"
    assert document_terms("か が") == ["か", "が"]


def test_ascii_text_normalises_as_any_other_text():
    """ASCII takes a shortcut (lower-casing); it must give what the full passes give."""
    import unicodedata

    from harrier.stores.bm25 import _MARKS

    text = "".join(map(chr, range(128))) + " Mixed CASE words"
    folded = unicodedata.normalize("NFKC", text).casefold()
    expected = unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", folded)))
    assert text.isascii() and normalize(text) == expected


def test_very_long_tokens_are_cut():
    assert document_terms("x" * 500) == ["x" * MAX_TERM_CHARS]


@pytest.mark.parametrize("settings", [dict(k=0), dict(b=1.5), dict(avg_len=0)])
def test_bad_settings_are_refused(settings):
    with pytest.raises(harrier.ConfigurationError, match="BM25"):
        harrier.Bm25Settings(**settings)


def test_the_encoder_weighs_documents_by_bm25_term_frequency():
    encoder = harrier.Bm25Encoder(harrier.Bm25Settings(k=1.2, b=0.75, avg_len=4.0))
    indices, values = encoder.embed_document("rain rain sun")  # 3 terms, rain twice
    by_index = dict(zip(indices, values, strict=True))
    (rain,), _ = encoder.embed_query("rain")
    (sun,), _ = encoder.embed_query("sun")
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 4.0)
    assert by_index[rain] == pytest.approx(2 * 2.2 / (2 + norm), rel=1e-5)
    assert by_index[sun] == pytest.approx(2.2 / (1 + norm), rel=1e-5)
    assert encoder.embed_query("rain sun")[1] == [1.0, 1.0]


def _terms_one_by_one(text: str) -> list[str]:
    """The definition, term by term: each run of CJK or of other word characters in order; a
    CJK run gives its characters then its bigrams, a word its first MAX_TERM_CHARS."""
    terms: list[str] = []
    for run in re.findall(rf"[{_CJK}]+|[^\W{_CJK}]+", normalize(text)):
        if re.match(rf"[{_CJK}]", run):
            terms.extend(run)
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            terms.append(run[:MAX_TERM_CHARS])
    return terms


_PIECES = st.sampled_from(
    [
        "ASCII only, Mixed Case.",
        "東京",
        "の",
        "天気",
        "Paris",
        "élan",
        " ",
        ", ",
        "x" * 70,
        "𠀀𠀁",
        "ｶﾞ",
        "Straße",
        "الطَّقْسُ",
        "42",
        "_",
        "\n",
        "mixed東京text",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30).map("".join))
def test_document_terms_follow_the_definition(text):
    assert document_terms(text) == _terms_one_by_one(text)
