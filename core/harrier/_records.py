"""What the pipeline writes and what a search returns, with deterministic ids and hashes."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPAN_NAMESPACE = uuid.UUID("6f1c2b7e-9a3d-5e4f-8b21-0c7d3a9e5f10")
"""The UUIDv5 namespace of span ids: never change it, or re-runs would duplicate."""


def span_id(doc_id: str, span_index: int) -> str:
    """The id of a span: UUIDv5 of (document id, span index), stable across runs and machines."""
    return str(uuid.uuid5(SPAN_NAMESPACE, f"{doc_id}\x1f{span_index}"))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same string."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def document_hash(text: str | Iterable[str], metadata: dict[str, Any], settings: str) -> str:
    """SHA-256 over a document's metadata, the split/model settings and its text.

    ``text`` may be given in pieces (a large file streamed); the result is the same as for the
    joined text. A document is re-embedded when any of the three change.
    """
    digest = hashlib.sha256()
    for part in (canonical_json(metadata), settings):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    for piece in [text] if isinstance(text, str) else text:  # last part: needs no length
        digest.update(piece.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


SPAN_FIELDS = (
    "doc_id",
    "span_index",
    "span_count",
    "start",
    "end",
    "token_count",
    "doc_hash",
    "model",
)
"""The fields of a :class:`SpanRecord` that every store keeps as they are, one column each."""


@dataclass(frozen=True, eq=False)
class SpanRecord:
    """One stored span: its vector, its exact text, and where it came from.

    Two records are equal when every field is, vectors compared element by element.
    """

    id: str
    vector: np.ndarray
    text: str
    doc_id: str
    span_index: int
    span_count: int
    start: int
    end: int
    token_count: int
    doc_hash: str
    model: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fields(
        cls, id: str, vector: Any, text: str, metadata: dict[str, Any], fields: dict[str, Any]
    ) -> SpanRecord:
        """A record from what a store gives back: ``fields`` holds every name of SPAN_FIELDS."""
        return cls(
            id=id,
            vector=np.asarray(vector, dtype=np.float32),
            text=text,
            metadata=metadata,
            **{name: fields[name] for name in SPAN_FIELDS},
        )

    def span_fields(self) -> dict[str, Any]:
        """The values of SPAN_FIELDS, as a store writes them."""
        return {name: getattr(self, name) for name in SPAN_FIELDS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpanRecord):
            return NotImplemented
        return (self.id, self.text, self.metadata, self.span_fields()) == (
            other.id,
            other.text,
            other.metadata,
            other.span_fields(),
        ) and np.array_equal(self.vector, other.vector)

    # mutable metadata: unhashable, like any dataclass with eq
    __hash__ = None  # type: ignore[assignment]

    def approx_bytes(self) -> int:
        """A generous estimate of this record's size in a request."""
        return (
            len(self.text.encode("utf-8", "surrogatepass"))
            + len(canonical_json(self.metadata).encode("utf-8", "surrogatepass"))
            + 12 * self.vector.shape[0]
            + 512
        )


@dataclass(frozen=True)
class Hit:
    """One search result; the same shape from every store. The span fields are None for a
    point another writer added to the collection (e.g. LangChain's ``add_texts``)."""

    text: str
    score: float
    doc_id: str | None
    span_index: int | None
    start: int | None
    end: int | None
    metadata: dict[str, Any]
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": self.score,
            "doc_id": self.doc_id,
            "span_index": self.span_index,
            "start": self.start,
            "end": self.end,
            "metadata": self.metadata,
            "id": self.id,
        }
