"""A request's token ids, counted against the limits in bounded steps: refused as soon as one
is passed, before the work of tokenising the rest is done.

First by length alone (a text of ``n`` characters has at least ``n / chars_per_token`` tokens),
then in pieces of at most ``PIECE_CHARS`` characters, a long text on its own through
:meth:`ServeTokenizer.bounded` (which stops once it holds more than the limit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from harrier._errors import EmptyTextError
from harrier.serve._http import ApiError
from harrier.serve._limits import ServeLimits
from harrier.serve._tokenizer import ServeTokenizer

PIECE_CHARS = 1 << 16
"""Characters tokenised between two checks of the request's running token count."""


def token_rows(
    tokenizer: ServeTokenizer,
    texts: list[str],
    *,
    limit: int,
    truncate: bool,
    limits: ServeLimits,
    param: str,
    documents: bool,
) -> tuple[list[np.ndarray], int]:
    """The ids the model runs per text (``texts`` include any prompt) and the tokens in all;
    400 for a text over ``limit`` (unless ``truncate``), 413 over the request's limits."""
    if len(texts) > limits.max_texts_per_request:
        raise ApiError(
            413,
            f"{len(texts)} texts in one request, over the limit of "
            f"{limits.max_texts_per_request} (--max-texts-per-request); send "
            "them in several requests",
            param=param,
            code="too_many_inputs",
        )
    least = [tokenizer.min_tokens(text) for text in texts]
    if not truncate:
        for i, count in enumerate(least):
            if count > limit:
                raise _too_long(param, i, count, limit, exact=False, chars=len(texts[i]))
    _check_total(sum(min(count, limit) for count in least), limits, param)
    rows: list[np.ndarray] = []
    total = 0
    for start, stop in _pieces(texts, long=4 * limit):
        if stop - start == 1 and len(texts[start]) > 4 * limit:
            row, exact = tokenizer.bounded(texts[start], limit, truncate)
            if not exact:
                raise _too_long(param, start, limit + 1, limit, exact=False)
            piece = [row]
        else:
            piece = tokenizer.ids(texts[start:stop])
            if truncate:
                piece = [
                    tokenizer.bounded(texts[start + j], limit, True)[0] if len(row) > limit else row
                    for j, row in enumerate(piece)
                ]
        for j, row in enumerate(piece, start):
            if len(row) > limit:
                raise _too_long(param, j, len(row), limit, exact=True)
            if documents and len(row) <= tokenizer.added:
                raise EmptyTextError(j)
            total += len(row)
        _check_total(total, limits, param)
        rows += piece
    return rows, total


def tokenize_answer(
    tokenizer: ServeTokenizer, texts: list[str], *, special: bool, limits: ServeLimits
) -> bytes:
    """``/tokenize``'s JSON answer, built in pieces; 413 once the texts, their tokens or the
    answer's size pass a limit."""
    param = "inputs"
    if len(texts) > limits.max_texts_per_request:
        raise ApiError(
            413,
            f"{len(texts)} texts in one request, over the limit of "
            f"{limits.max_texts_per_request} (--max-texts-per-request)",
            param=param,
            code="too_many_inputs",
        )
    _check_total(sum(tokenizer.min_tokens(text) for text in texts), limits, param)
    rows: list[bytes] = []
    tokens = size = 0
    for start, stop in _pieces(texts, long=PIECE_CHARS):
        for row in tokenizer.pieces(texts[start:stop], special):
            tokens += len(row)
            _check_total(tokens, limits, param)
            rows.append(json.dumps(row, separators=(",", ":")).encode())
            size += len(rows[-1]) + 1
            if size > limits.max_response_bytes:
                raise ApiError(
                    413,
                    f"the answer would be over the limit of {limits.max_response_bytes} bytes "
                    "(--max-response-bytes); send fewer or shorter texts per request",
                    param=param,
                    code="response_too_large",
                )
    return b"[" + b",".join(rows) + b"]"


def _pieces(texts: list[str], long: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of ``texts`` of at most ``PIECE_CHARS`` characters; a text longer
    than ``long`` characters alone."""
    start, size = 0, 0
    for i, text in enumerate(texts):
        if i > start and (size + len(text) > PIECE_CHARS or len(text) > long):
            yield start, i
            start, size = i, 0
        size += len(text)
        if len(text) > long:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(texts):
        yield start, len(texts)


def _check_total(tokens: int, limits: ServeLimits, param: str) -> None:
    if tokens > limits.max_tokens_per_request:
        raise ApiError(
            413,
            f"the request has {tokens} tokens or more, over the limit of "
            f"{limits.max_tokens_per_request} per request (--max-tokens-per-request); "
            "send fewer texts per request",
            param=param,
            code="too_many_tokens",
        )


def _too_long(
    param: str, index: int, count: int, limit: int, *, exact: bool, chars: int | None = None
) -> ApiError:
    if exact:
        said = f"has {count} tokens"
    elif chars is not None:
        said = f"has at least {count} tokens ({chars} characters)"
    else:
        said = f"has more than {limit} tokens"
    return ApiError(
        400,
        f"{param}[{index}] {said}, over the model's limit of {limit}; split it into shorter "
        "texts, or ask for truncation",
        param=f"{param}[{index}]",
        code="text_too_long",
        details={"index": index, "token_count": count, "exact": exact, "limit": limit},
    )
