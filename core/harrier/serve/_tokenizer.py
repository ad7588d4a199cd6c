"""The server's own copy of the model's tokenizer: bounded counting and truncation, ``/tokenize``.

A copy of the Rust tokenizer that nothing else changes: its calls need no lock (only a change of
truncation or padding conflicts with a call in flight), and it gives exactly the engine's ids.

Bounds, so that no request costs more than its limits allow:

- ``chars_per_token``: the most characters of the original text one token can cover (the
  longest vocabulary entry, times what the normaliser may fold into one character). Where the
  pipeline drops no characters (byte-level or byte-fallback BPE, no stripping), a text of ``n``
  characters has at least ``n / chars_per_token`` tokens: a text far over a limit is refused
  before it is tokenised at all.
- :meth:`ServeTokenizer.leading`: the first ``need`` tokens of a long text from a prefix of it.
  Tokenisation is local: what follows a token can change it only through the word it is in and
  the few characters after it (pre-tokenizer look-ahead, a Unicode combining sequence). So a
  prefix whose first ``need`` tokens all end ``margin_tokens`` tokens' worth of characters
  before its end has the first ``need`` tokens of the whole text; the prefix doubles until that
  holds (at most ``need * chars_per_token`` plus the margin, the whole text at worst). Tests
  compare the result with tokenising the whole text, over random and adversarial texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from harrier._errors import ConfigurationError
from harrier._tokens import TOKEN_DTYPE

_UNICODE_FORMS = {"NFC", "NFD", "NFKC", "NFKD"}
_UNICODE_FOLD = 4
"""Most characters Unicode composition folds into one (U+1F82 is four code points in NFD)."""
_KEEPING_NORMALIZERS = {"Prepend", "Lowercase", "Replace", "Sequence", *_UNICODE_FORMS}
_KEEPING_PRE_TOKENIZERS = {"ByteLevel", "Metaspace", "Split", "Digits", "Punctuation", "Sequence"}


class ServeTokenizer:
    """Token ids, pieces and offsets of texts, from a private copy of ``tokenizer``'s backend."""

    def __init__(self, tokenizer: Any, *, margin_tokens: int = 64) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or not getattr(tokenizer, "is_fast", False):
            raise ConfigurationError(
                "harrier serve needs a fast tokenizer (a tokenizer.json in the model folder)"
            )
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_str(backend.to_str())
        self.backend.no_truncation()
        self.backend.no_padding()
        self.backend.encode_special_tokens = bool(getattr(tokenizer, "split_special_tokens", False))
        self.special_ids = frozenset(int(i) for i in tokenizer.all_special_ids)
        self.added = self.backend.num_special_tokens_to_add(False)
        """Special tokens put around every text (the post-processor's)."""
        self.chars_per_token = _chars_per_token(self.backend)
        self.margin_chars = margin_tokens * (self.chars_per_token or 16)

    def ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The ids the engine runs for each text (special tokens included, never truncated)."""
        encoded = self.backend.encode_batch_fast(list(texts), add_special_tokens=True)
        return [np.array(e.ids, dtype=TOKEN_DTYPE) for e in encoded]

    def min_tokens(self, text: str) -> int:
        """A lower bound of the tokens of ``text`` (special tokens included), from its length."""
        if self.chars_per_token is None:
            return self.added
        return -(-len(text) // self.chars_per_token) + self.added

    def bounded(self, text: str, limit: int, truncate: bool) -> tuple[np.ndarray, bool]:
        """The ids of ``text`` (special tokens included) if it has at most ``limit`` tokens, or
        with ``truncate`` its first ``limit`` (exactly what truncating the whole tokenisation
        gives); else ids of a prefix with more than ``limit``. The flag: the ids are exact."""
        content = max(limit - self.added, 0)
        encoding, whole = self.leading(text, content + 1)
        over = len(encoding.ids) > content
        if over and truncate:
            encoding.truncate(content)
        row = self.backend.post_process(encoding, None, True)
        return np.array(row.ids, dtype=TOKEN_DTYPE), whole or truncate or not over

    def leading(self, text: str, need: int) -> tuple[Any, bool]:
        """The encoding (no special tokens) of a prefix of ``text`` whose first ``need`` tokens
        are those of the whole text, or of the whole text (then True)."""
        cap = None if self.chars_per_token is None else need * self.chars_per_token
        size = 4 * need + self.margin_chars
        while size < len(text):
            encoding = self.backend.encode(text[:size], add_special_tokens=False)
            offsets = encoding.offsets
            if len(offsets) >= need and offsets[need - 1][1] <= size - self.margin_chars:
                return encoding, False
            if cap is not None and size >= cap + self.margin_chars:
                break  # cannot happen where every token covers at most chars_per_token
            size *= 2
        return self.backend.encode(text, add_special_tokens=False), True

    def pieces(self, texts: Sequence[str], special: bool) -> list[list[dict[str, Any]]]:
        """TEI's /tokenize answer: per text, each token's id, text, special flag, char offsets."""
        out = []
        for encoding in self.backend.encode_batch(list(texts), add_special_tokens=special):
            out.append(
                [
                    {
                        "id": i,
                        "text": piece,
                        "special": i in self.special_ids,
                        "start": start,
                        "stop": stop,
                    }
                    for i, piece, (start, stop) in zip(
                        encoding.ids, encoding.tokens, encoding.offsets, strict=True
                    )
                ]
            )
        return out


def _chars_per_token(backend: Any) -> int | None:
    """Most characters of the original text one token covers; None where the pipeline may drop
    characters (a stripping normaliser, a whitespace pre-tokenizer, BPE without bytes)."""
    spec = json.loads(backend.to_str())
    fold = _fold(spec.get("normalizer"))
    if fold is None or not _keeps(spec.get("pre_tokenizer")):
        return None
    model = spec.get("model") or {}
    byte_level = "ByteLevel" in json.dumps(spec.get("pre_tokenizer"))
    if model.get("type") != "BPE" or not (byte_level or model.get("byte_fallback")):
        return None
    longest = max(len(token) for token in backend.get_vocab(with_added_tokens=True))
    return longest * fold


def _fold(normalizer: dict[str, Any] | None) -> int | None:
    """How many original characters the normaliser may fold into one; None if it drops any."""
    if normalizer is None:
        return 1
    kind = normalizer.get("type")
    if kind not in _KEEPING_NORMALIZERS:
        return None
    if kind == "Sequence":
        fold = 1
        for part in normalizer.get("normalizers", []):
            inner = _fold(part)
            if inner is None:
                return None
            fold *= inner
        return fold
    if kind == "Replace":
        pattern = normalizer.get("pattern", {}).get("String")
        content = normalizer.get("content", "")
        if pattern is None or not content:
            return None  # a regex or an empty replacement may remove any run of characters
        return max(1, -(-len(pattern) // len(content)))
    return _UNICODE_FOLD if kind in _UNICODE_FORMS else 1


def _keeps(pre_tokenizer: dict[str, Any] | None) -> bool:
    """The pre-tokenizer keeps every character (splits, never removes)."""
    if pre_tokenizer is None:
        return True
    kind = pre_tokenizer.get("type")
    if kind not in _KEEPING_PRE_TOKENIZERS or pre_tokenizer.get("behavior") == "Removed":
        return False
    return all(_keeps(part) for part in pre_tokenizer.get("pretokenizers", []))
