"""The reads both Qdrant stores (Edge and qdrant-client) make, over one ``_scroll``."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from harrier import SpanRecord, StoredDocument
from harrier_qdrant._payload import to_record

SPAN_FIELDS = ["doc_id", "span_index", "span_count", "doc_hash"]
SCROLL_PAGE = 1024


class PointScans(abc.ABC):
    """``stored_documents``, ``iter_doc_ids``, ``iter_records`` and ``fetch_spans`` for a store
    that can scroll its points (filtered, with chosen payload fields, optionally vectors)."""

    @abc.abstractmethod
    def _scroll(self, flt: Any, payload: list[str] | bool, *, vectors: bool = False,
                page: int = SCROLL_PAGE) -> Iterator[Any]:
        """Every point matching ``flt`` (None: all), page by page."""

    @abc.abstractmethod
    def _doc_filter(self, doc_ids: Sequence[str]) -> Any:
        """The filter matching every span of ``doc_ids``."""

    def stored_documents(self, doc_ids: Sequence[str]) -> dict[str, StoredDocument]:
        spans: dict[str, set[tuple[int, int, str]]] = {}
        for point in self._scroll(self._doc_filter(doc_ids), SPAN_FIELDS):
            p = point.payload or {}
            spans.setdefault(p["doc_id"], set()).add(
                (p["span_index"], p["span_count"], p["doc_hash"]))
        return {doc_id: StoredDocument(frozenset(s)) for doc_id, s in spans.items()}

    def iter_doc_ids(self) -> Iterable[str]:
        seen: set[str] = set()
        for point in self._scroll(None, ["doc_id"]):
            doc_id = (point.payload or {}).get("doc_id")
            if doc_id is not None and doc_id not in seen:
                seen.add(doc_id)
                yield doc_id

    def iter_records(self, batch_size: int = 256) -> Iterator[list[SpanRecord]]:
        page: list[SpanRecord] = []
        for p in self._scroll(None, True, vectors=True, page=batch_size):
            page.append(to_record(p.id, p.vector, p.payload or {}))
            if len(page) == batch_size:
                yield page
                page = []
        if page:
            yield page

    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        points = self._scroll(self._doc_filter([doc_id]), True, vectors=True)
        records = [to_record(p.id, p.vector, p.payload or {}) for p in points]
        return sorted(records, key=lambda r: r.span_index)
