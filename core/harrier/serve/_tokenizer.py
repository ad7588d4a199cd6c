"""The server's own copy of the model's tokenizer, for ``/tokenize`` and the request checks.

A copy of the Rust tokenizer that nothing else changes: its calls need no lock (only a change of
truncation or padding conflicts with a call in flight), and it gives exactly the engine's ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harrier._errors import ConfigurationError


class ServeTokenizer:
    """Token ids, pieces and offsets of texts, from a private copy of ``tokenizer``'s backend."""

    def __init__(self, tokenizer: Any) -> None:
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
