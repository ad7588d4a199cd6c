"""Token ids of many texts in one call, exactly as the model sees them.

Fast tokenizers are called through their Rust backend (``encode_batch_fast``: no offsets, the
batch spread over the Rust thread pool, the GIL released), which gives what
``tokenizer(texts, add_special_tokens=True)`` gives at about two thirds of its cost. A tokenizer
whose backend is set to truncate or pad, or a slow one, goes through ``tokenizer(...)``.
Ids are ``int32`` arrays: a tenth of the memory of Python ints, cheap to pickle to Ray workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harrier._errors import InputError, InputTypeError
from harrier.sources._validation import surrogate_at

TOKEN_DTYPE = np.int32


def encode(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """The token ids of each text, special tokens included, never truncated."""
    if not texts:
        return []
    backend = _plain_backend(tokenizer)
    if backend is not None:
        fast = getattr(backend, "encode_batch_fast", backend.encode_batch)
        rows: list[Any] = [e.ids for e in _checked(fast, texts, add_special_tokens=True)]
    else:
        rows = _slow_rows(tokenizer, texts, "input_ids", special=True, return_token_type_ids=False)
    return [np.array(row, dtype=TOKEN_DTYPE) for row in rows]


def offsets(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """``(n, 2)`` start and end ``str`` indices of every token of each text, without the
    special tokens."""
    backend = _plain_backend(tokenizer)
    if backend is not None:
        rows: list[Any] = [
            e.offsets for e in _checked(backend.encode_batch, texts, add_special_tokens=False)
        ]
    else:
        rows = _slow_rows(
            tokenizer, texts, "offset_mapping", special=False, return_offsets_mapping=True
        )
    return [np.asarray(row, dtype=np.int64).reshape(-1, 2) for row in rows]


def _checked(encode_batch: Any, texts: Sequence[str], **kwargs: Any) -> Any:
    """``encode_batch(texts)`` of a Rust backend, whose bare ``TypeError`` for a text that is
    not valid Unicode (a lone surrogate: undecodable bytes of a file name or ``argv`` become
    them in Python) becomes an :class:`InputError` naming the text and the character."""
    try:
        return encode_batch(list(texts), **kwargs)
    except TypeError:
        for index, text in enumerate(texts):
            if isinstance(text, str) and (at := surrogate_at(text)) is not None:
                raise InputError(
                    f"text at index {index} is not valid Unicode: it holds a lone surrogate "
                    f"(U+{ord(text[at]):04X}), as undecodable bytes become; decode such bytes "
                    "with errors='replace', or remove the character"
                ) from None
        raise


def _slow_rows(
    tokenizer: Any, texts: Sequence[str], key: str, *, special: bool, **returns: bool
) -> Any:
    """``tokenizer(texts)[key]``, never truncated and with no attention mask (the slow path)."""
    return tokenizer(
        list(texts),
        add_special_tokens=special,
        truncation=False,
        verbose=False,
        return_attention_mask=False,
        **returns,
    )[key]


def _plain_backend(tokenizer: Any) -> Any:
    """The Rust tokenizer behind ``tokenizer`` when calling it directly changes nothing."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False):
        return None
    if backend.truncation is not None or backend.padding is not None:
        return None
    if backend.encode_special_tokens != bool(getattr(tokenizer, "split_special_tokens", False)):
        return None
    return backend


def checked_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ``InputTypeError`` naming the first item that is not a string."""
    if isinstance(texts, str):
        raise InputTypeError(
            None, texts, expected="a list of str", hint="pass [text], not a single string"
        )
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InputTypeError(i, text)
    return items
