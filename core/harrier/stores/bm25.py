"""BM25 terms for every script, prepared identically for every store.

The stores' own tokenizers make one term of a whole Chinese or Japanese sentence, so harrier
prepares the text that the BM25 side sees: Unicode-normalised (NFKC), case-folded, Latin, Greek
and Cyrillic diacritics and Arabic/Hebrew vowel marks removed, cut into word terms; a run of
Han, Hiragana or Katakana becomes its characters and its character bigrams (a query run of two
or more characters only its bigrams). The prepared text is the terms joined by spaces, so a
store's whitespace or standard tokenizer reproduces exactly these terms. No stemming and no stop
words: one configuration serves ~100 languages.

Qdrant gets term weights from ``qdrant_edge.Bm25`` (Rust, no download) on the prepared text and
applies IDF itself (the sparse vector's IDF modifier); Milvus runs its own BM25 function on it.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from harrier._errors import ConfigurationError

PREPARATION = "harrier-bm25-1"
"""The version of the text preparation: a change makes old collections refuse new terms."""
SPARSE_VECTOR_NAME = "langchain-sparse"
"""The Qdrant name of the BM25 vector (langchain_qdrant's default)."""
MAX_TERM_CHARS = 64
"""Longer terms (hashes, base64) are cut to this many characters."""

_CJK = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3006"
    "\U00020000-\U0002ffff"
)
_TERMS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
_CJK_RUNS = re.compile(rf"([{_CJK}]+)")  # split() keeps the runs, at the odd indices
_WORDS = re.compile(rf"([^\W{_CJK}]{{1,{MAX_TERM_CHARS}}})[^\W{_CJK}]*")  # each word, cut
_MARKS = re.compile("[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0640]")


@dataclass(frozen=True)
class Bm25Settings:
    """The BM25 parameters a collection records; another configuration is refused."""

    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0
    """Qdrant's length normalisation; Milvus uses the collection's own average instead."""

    def __post_init__(self) -> None:
        if not (self.k > 0 and 0 <= self.b <= 1 and self.avg_len > 0):
            raise ConfigurationError("BM25 needs k > 0, 0 <= b <= 1 and avg_len > 0")

    def record(self) -> dict[str, Any]:
        """What a collection records: the parameters plus the fixed tokenisation."""
        return {
            **asdict(self),
            "preparation": PREPARATION,
            "tokenizer": "whitespace",
            "language": "none",
            "stemmer": "none",
            "stopwords": "none",
        }


def normalize(text: str) -> str:
    """NFKC, case-folded, with diacritics and vowel marks removed (Latin, Greek, Cyrillic,
    Arabic, Hebrew); kana voicing marks are kept."""
    if text.isascii():  # the same result, without the three normalisation passes
        return text.lower()
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed))


def document_terms(text: str) -> list[str]:
    """The BM25 terms of a stored text, in order: words, and CJK characters plus their bigrams.
    (One regex call per stretch between CJK runs: this runs on every span written.)"""
    pieces = _CJK_RUNS.split(normalize(text))
    terms: list[str] = _WORDS.findall(pieces[0])
    for i in range(1, len(pieces), 2):
        run = pieces[i]
        terms.extend(run)
        terms.extend(map(operator.add, run, run[1:]))
        terms.extend(_WORDS.findall(pieces[i + 1]))
    return terms


def query_terms(text: str) -> list[str]:
    """The BM25 terms of a query: words, and CJK bigrams (a lone CJK character as itself)."""
    terms: list[str] = []
    for run in _TERMS.findall(normalize(text)):
        if not _IS_CJK.match(run):
            terms.append(run[:MAX_TERM_CHARS])
        elif len(run) == 1:
            terms.append(run)
        else:
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


class Bm25Encoder:
    """BM25 sparse vectors (term-hash indices, weights) from ``qdrant_edge.Bm25``.

    Document weights are BM25's term-frequency part (``k``, ``b``, ``avg_len``); query weights
    are 1 per term: the store multiplies by IDF (Qdrant's IDF modifier).
    """

    def __init__(self, settings: Bm25Settings | None = None) -> None:
        try:
            from qdrant_edge import (
                Bm25,
                Bm25Config,
                DisabledStemmer,
                StopwordsSet,
                TokenizerType,
            )
        except ImportError as exc:
            raise ImportError(
                "BM25 vectors need qdrant-edge-py: pip install 'harrier-suite[qdrant]'"
            ) from exc
        self.settings = settings or Bm25Settings()
        s = self.settings
        self._model = Bm25(
            Bm25Config(
                k=s.k,
                b=s.b,
                avg_len=s.avg_len,
                tokenizer=TokenizerType.Whitespace,
                lowercase=False,
                stemmer=DisabledStemmer(),
                stopwords=StopwordsSet(languages=set()),
            )
        )

    def embed_document(self, text: str) -> tuple[list[int], list[float]]:
        vector = self._model.embed_document(" ".join(document_terms(text)))
        return list(vector.indices), list(vector.values)

    def embed_query(self, text: str) -> tuple[list[int], list[float]]:
        vector = self._model.embed_query(" ".join(query_terms(text)))
        return list(vector.indices), list(vector.values)
