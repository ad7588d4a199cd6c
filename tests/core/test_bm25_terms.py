"""harrier's BM25 text preparation: usable terms in every script, identically for all stores."""

from __future__ import annotations

import pytest

import harrier
from harrier._bm25 import MAX_TERM_CHARS, document_terms, normalize, query_terms


def test_cjk_runs_become_characters_and_bigrams():
    assert document_terms("東京の天気") == ["東", "京", "の", "天", "気",
                                            "東京", "京の", "の天", "天気"]
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
