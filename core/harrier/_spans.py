"""Split long texts into spans that each fit the model's token limit when embedded alone.

:class:`Splitter` splits many texts at once. Texts that fit in one span, the common case, are
recognised from one batched tokenizer call (``_tokens.encode``) and kept whole. Longer texts are
tokenised once more, in large pieces, with offsets; token windows are walked over them, each cut
at the last paragraph end, else sentence end, else whitespace in its last quarter, else at a
token boundary; cuts are ``str`` indices, so no span splits a character even where byte-level
BPE does. Each span is then encoded alone as the engine encodes a document (one batched call per
group of spans) and shortened if that real count is over the limit. Every span keeps the ids of
that last encoding, so the engine embeds them without tokenising the span again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from harrier._batching import size_bounded
from harrier._engine import EmbeddingEngine, is_engine
from harrier._errors import ConfigurationError, InputTypeError
from harrier._tokens import encode, offsets

logger = logging.getLogger("harrier")

_FALLBACK_MAX_TOKENS = 32_768  # when model_max_length is unset (Hugging Face writes 1e30)
_TAIL = 0.25  # preferred boundaries are looked for in the last quarter of each window
_PIECE_CHARS = 1 << 13  # first pass: pieces this long (a piece costs more per char if longer)
_GROUP_CHARS = 1 << 22  # at most this much text is verified by one tokenizer call
# Longer texts (in characters per token of the limit) are not tried whole: they rarely fit,
# and one that does is still kept whole by the walk, only at the cost of a second pass.
_FIT_CHARS_PER_TOKEN = 8

# Each pattern matches up to the last boundary in a region: the match's end is the cut.
_PARAGRAPH = re.compile(r"(?s:.*)\n(?:[^\S\n]*\n)+")
_SENTENCE = re.compile(r"(?s:.*)(?:[.!?…‼⁇⁈⁉][\"'”’»)\]]*(?=\s)|[。！？｡؟۔।॥][」』”’）)\]\"']*)")
# Before the space that leads a word (BPE tokenisers attach it to the word), after a newline.
_SPACE = re.compile(r"(?s:.*)(?:(?=[^\S\n]\S)|\n(?=\S))")


@dataclass(frozen=True)
class Span:
    """One piece of a text: ``text == original[start:end]`` (``str`` indices).

    ``token_count`` is what the model sees when the span is embedded as a document, special
    tokens included (``Embedder.count_tokens``); ``token_ids`` are those tokens (``int32``), which
    :meth:`Embedder.embed_token_ids` embeds without tokenising the text again (None on a span
    made by hand). Spans compare by text and position, not by ids.
    """

    text: str
    start: int
    end: int
    index: int
    token_count: int
    token_ids: np.ndarray | None = field(default=None, compare=False, repr=False)


def split_spans(
    text: str,
    embedder_or_tokenizer: EmbeddingEngine | Any,
    *,
    max_tokens: int | None = None,
    overlap_tokens: int = 0,
) -> list[Span]:
    """Split ``text`` into spans of at most ``max_tokens`` tokens each, special tokens included.

    ``embedder_or_tokenizer`` is an :class:`Embedder` (``max_tokens`` defaults to, and may not
    exceed, its own) or a Hugging Face fast tokenizer (default: its ``model_max_length``, or
    32,768 when that is unset). Without overlap the spans tile the text: joined, they give it
    back exactly. With ``overlap_tokens`` each span starts about that many tokens (at least that
    many, moved back to a word start when one is near) before the previous one ends.

    An empty text, or one that tokenises to nothing, gives ``[]``; a whitespace-only text with
    tokens gives spans like any other text. Raises :class:`ConfigurationError` when
    ``max_tokens`` cannot hold the special tokens plus one token (or one character of the text),
    or when ``overlap_tokens`` is negative or not below that room. To split many texts, a
    :class:`Splitter` does it in far fewer tokenizer calls.
    """
    if not isinstance(text, str):
        raise InputTypeError(None, text, hint="split_spans takes one text")
    splitter = Splitter(embedder_or_tokenizer, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    return splitter.split_many([text])[0]


class Splitter:
    """``split_spans`` for one tokenizer and limit, over many texts at once.

    Built once (it checks the settings and counts the special tokens), then :meth:`split_many`
    tokenises every text that may fit in one batched call and walks only those that do not.
    The spans of each text are exactly those ``split_spans`` gives for it alone.
    """

    def __init__(
        self,
        embedder_or_tokenizer: EmbeddingEngine | Any,
        *,
        max_tokens: int | None = None,
        overlap_tokens: int = 0,
    ) -> None:
        self.tokenizer, self.limit = _resolve(embedder_or_tokenizer, max_tokens)
        self.special = len(encode(self.tokenizer, [""])[0])
        self.room = self.limit - self.special
        if self.room < 1:
            raise ConfigurationError(
                f"max_tokens={self.limit} leaves no room for text after the tokenizer's "
                f"{self.special} special tokens; use max_tokens >= {self.special + 1}"
            )
        if not 0 <= overlap_tokens < self.room:
            raise ConfigurationError(
                f"overlap_tokens={overlap_tokens} must be >= 0 and below the {self.room} text "
                f"tokens a span can hold (max_tokens={self.limit} minus {self.special} special "
                "tokens)"
            )
        self.overlap = overlap_tokens

    def split(self, text: str) -> list[Span]:
        """The spans of one text."""
        return self.split_many([text])[0]

    def split_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """The spans of each text, in order. Memory grows with the text passed in one call (the
        ingestion pipeline passes groups of at most 4 million characters)."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputTypeError(i, text)
        out: list[list[Span] | None] = [None] * len(texts)
        whole = [
            i for i, text in enumerate(texts) if 0 < len(text) <= self.limit * _FIT_CHARS_PER_TOKEN
        ]
        encoded = _encode_bounded(self.tokenizer, [texts[i] for i in whole])
        for i, ids in zip(whole, encoded, strict=True):
            if len(ids) <= self.special:  # only characters the tokenizer drops
                out[i] = []
            elif len(ids) <= self.limit:
                out[i] = [Span(texts[i], 0, len(texts[i]), 0, len(ids), ids)]
        rest = [i for i, spans in enumerate(out) if spans is None]
        for i, spans in zip(rest, self._walk_many([texts[i] for i in rest]), strict=True):
            out[i] = spans
        return out  # type: ignore[return-value]

    def _walk_many(self, texts: list[str]) -> list[list[Span]]:
        """Walk the texts that need cutting together: one offsets pass over all of them, then
        rounds in which the candidate spans of every walk are encoded in one batched call."""
        results: list[list[Span]] = [[] for _ in texts]
        walks: dict[int, Generator[list[str], list[np.ndarray], list[Span]]] = {}
        asked: dict[int, list[str]] = {}
        for i, (starts, ends) in enumerate(_offsets_many(self.tokenizer, texts)):
            if len(starts):  # else empty, or only characters the tokenizer drops
                walks[i] = _Walker(
                    texts[i], self.tokenizer, starts, ends, self.limit, self.room, self.overlap
                ).run()
                asked[i] = next(walks[i])
        while asked:
            rows = _encode_bounded(self.tokenizer, [t for part in asked.values() for t in part])
            answered, asked, at = asked, {}, 0
            for i, part in answered.items():
                try:
                    asked[i] = walks[i].send(rows[at : at + len(part)])
                except StopIteration as done:
                    results[i] = done.value
                at += len(part)
        return results


def _resolve(obj: Any, max_tokens: int | None) -> tuple[Any, int]:
    """The tokenizer and the token limit to split for."""
    if is_engine(obj):
        tokenizer, default, ceiling = obj.tokenizer, obj.max_tokens, obj.max_tokens
    elif getattr(obj, "is_fast", False):
        tokenizer, ceiling = obj, None
        length = getattr(obj, "model_max_length", None)
        sane = isinstance(length, int) and 0 < length <= 1_000_000
        default = int(length) if sane else _FALLBACK_MAX_TOKENS  # type: ignore[arg-type]
    else:
        raise ConfigurationError(
            f"split_spans needs a harrier.Embedder or a Hugging Face fast tokenizer (it reads "
            f"token offsets), got {type(obj).__name__}"
        )
    limit = default if max_tokens is None else int(max_tokens)
    if limit < 1 or (ceiling is not None and limit > ceiling):
        within = f" and the embedder's max_tokens={ceiling}" if ceiling is not None else ""
        raise ConfigurationError(f"max_tokens={limit} must be between 1{within}")
    return tokenizer, limit


def _offsets_many(tokenizer: Any, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end (``str`` indices, non-decreasing) of every token of each text. Texts are
    tokenised in pieces (cut at whitespace), the pieces of all texts in batched calls."""
    pieces = [(k, a, b) for k, text in enumerate(texts) for a, b in pairwise(_cuts(text))]
    starts: list[list[np.ndarray]] = [[] for _ in texts]
    ends: list[list[np.ndarray]] = [[] for _ in texts]
    for chunk in size_bounded(pieces, lambda piece: piece[2] - piece[1], _GROUP_CHARS):
        mapping = offsets(tokenizer, [texts[k][a:b] for k, a, b in chunk])
        for (k, a, _), pairs in zip(chunk, mapping, strict=True):
            starts[k].append(pairs[:, 0] + a)
            ends[k].append(pairs[:, 1] + a)
    return [
        (np.maximum.accumulate(np.concatenate(s)), np.maximum.accumulate(np.concatenate(e)))
        for s, e in zip(starts, ends, strict=True)
    ]


def _cuts(text: str) -> list[int]:
    """Piece boundaries: every ``_PIECE_CHARS`` characters, moved back to a whitespace."""
    cuts = [0]
    while len(text) - cuts[-1] > _PIECE_CHARS:
        hi = cuts[-1] + _PIECE_CHARS
        m = _SPACE.match(text, hi - _PIECE_CHARS // 8, hi)
        cuts.append(m.end() if m and m.end() > cuts[-1] else hi)
    cuts.append(len(text))
    return cuts


def _encode_bounded(tokenizer: Any, texts: list[str]) -> list[np.ndarray]:
    """``encode`` in calls of at most ``_GROUP_CHARS`` characters (bounds the memory held)."""
    return [
        row for chunk in size_bounded(texts, len, _GROUP_CHARS) for row in encode(tokenizer, chunk)
    ]


class _Walker:
    """Walks token windows over one text, verifying spans in batches (see the module doc)."""

    def __init__(
        self,
        text: str,
        tokenizer: Any,
        starts: np.ndarray,
        ends: np.ndarray,
        limit: int,
        room: int,
        overlap: int,
    ) -> None:
        self.text, self.tokenizer = text, tokenizer
        self.starts, self.ends, self.n = starts, ends, len(starts)
        self.limit, self.room, self.overlap = limit, room, overlap
        self.margin = 0  # tokens kept free after real counts came out over the estimate

    def run(self) -> Generator[list[str], list[np.ndarray], list[Span]]:
        """The spans; each group of candidate spans is yielded as texts, to be sent back as
        their ids (so one call encodes the candidates of many walks)."""
        spans: list[Span] = []
        start, after, group = 0, 0, 1 << 18
        while True:
            bounds: list[tuple[int, int]] = []  # candidates, then verified in one call
            a, b = start, after
            while b < len(self.text) and (not bounds or a - start < group):
                end = self.pick_end(a, self.room - self.margin, b)
                if end <= b and a < b:  # the overlap leaves no room to move on: skip it once
                    a, end = b, self.pick_end(b, self.room - self.margin, b)
                bounds.append((a, end))
                a, b = self.next_start(a, end), end
            rows = yield [self.text[a:b] for a, b in bounds]
            for (a, b), ids in zip(bounds, rows, strict=True):
                over = len(ids) > self.limit
                if over:  # the rest of the group started from the old end: walk it again
                    b, ids = self.shrink(a, len(ids), after)
                    group = max(1, group // 4)
                    if b <= after and a < after:  # nothing new: drop it, go on without overlap
                        start = after
                        break
                spans.append(Span(self.text[a:b], a, b, len(spans), len(ids), ids))
                if b >= len(self.text):
                    return spans
                start, after = self.next_start(a, b), b
                if over:
                    break
            else:
                group = min(group * 2, _GROUP_CHARS)

    def pick_end(self, start: int, budget: int, after: int) -> int:
        """End of a span of about ``budget`` tokens from ``start``, past ``after`` if it can."""
        a = int(np.searchsorted(self.ends, start, side="right"))  # first token ending after start
        b = a + budget  # the span holds tokens a .. b-1
        if b >= self.n:
            return len(self.text)
        hi = int(self.starts[b])
        if budget <= 0 or hi <= start:
            return start + 1  # one code point: the least a span can hold
        first = max(a + 1, b - max(1, int(budget * _TAIL)))
        lo = max(int(self.starts[first]), start + 1, min(after + 1, hi))
        for pattern in (_PARAGRAPH, _SENTENCE, _SPACE):
            cut = self.last_cut(pattern, lo, hi)
            if cut is not None:
                return cut
        return self.token_cut(first, b, lo)

    def last_cut(self, pattern: re.Pattern[str], lo: int, hi: int) -> int | None:
        """The last boundary of ``pattern`` in ``[lo, hi]``, if any."""
        m = pattern.match(self.text, max(0, lo - 8), min(hi + 1, len(self.text)))
        if m is not None and m.end() > hi:  # the lookahead char beyond hi was consumed
            m = pattern.match(self.text, max(0, lo - 8), hi)
        return m.end() if m is not None and lo <= m.end() <= hi else None

    def token_cut(self, first: int, b: int, floor: int) -> int:
        """Start of the last token in ``first..b`` sharing no character with the one before."""
        starts = self.starts[first : b + 1]
        clean = np.flatnonzero((self.ends[first - 1 : b] <= starts) & (starts >= floor))
        return int(starts[clean[-1]]) if len(clean) else int(self.starts[b])

    def next_start(self, start: int, end: int) -> int:
        """Where the span after ``[start, end)`` begins: ``end``, less the overlap."""
        if self.overlap == 0 or end >= len(self.text):
            return end
        k = int(np.searchsorted(self.starts, end, side="left")) - self.overlap
        move_on = int(np.searchsorted(self.starts, start, side="right"))  # first token after start
        if k < move_on:  # the span holds no more than the overlap: start one token further
            return min(int(self.starts[move_on]), end) if move_on < self.n else end
        near = max(move_on, k - self.overlap // 8, 1)  # a word start this close back is better
        cut = self.last_cut(_SPACE, max(int(self.starts[near]), start + 1), int(self.starts[k]))
        return cut if cut is not None else self.token_cut(near, k, start + 1)

    def shrink(self, start: int, count: int, after: int) -> tuple[int, np.ndarray]:
        """A span from ``start`` that fits (its end and ids): the budget less the excess, else
        a binary search."""
        budget, over = self.room - self.margin, count - self.limit
        self.margin = min(max(self.margin, over), max(1, self.room // 16))
        best: tuple[int, np.ndarray] | None = None
        lo, hi = 0, budget  # a budget of hi is known to be too much
        guess = budget - over
        while hi - lo > 1:
            mid = guess if lo < guess < hi else (lo + hi) // 2
            end = self.pick_end(start, mid, after)
            ids = encode(self.tokenizer, [self.text[start:end]])[0]
            if len(ids) <= self.limit:
                best, lo = (end, ids), mid
                if mid == guess:
                    break
            else:
                hi = mid
            guess = -1
        if best is None:
            ids = encode(self.tokenizer, [self.text[start : start + 1]])[0]
            if len(ids) > self.limit:
                raise ConfigurationError(
                    f"the character at offset {start} alone takes {len(ids)} tokens with the "
                    f"special tokens, over max_tokens={self.limit}; use a larger max_tokens"
                )
            best = (start + 1, ids)
        logger.debug(
            "span at %d shortened to %d characters to fit %d tokens (margin now %d)",
            start,
            best[0] - start,
            self.limit,
            self.margin,
        )
        return best
