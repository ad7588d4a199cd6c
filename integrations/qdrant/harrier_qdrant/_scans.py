"""The reads both Qdrant stores (Edge and qdrant-client) make, over one ``_scroll``."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from harrier.stores import SpanRecord, size_bounded
from harrier_qdrant._payload import is_span, to_record

SCROLL_PAGE = 1024


class PointScans(abc.ABC):
    """``scan_spans``, ``iter_records`` and ``fetch_spans`` for a store that can scroll its
    points (filtered, with chosen payload fields, optionally with vectors)."""

    @abc.abstractmethod
    def _scroll(
        self, flt: Any, payload: list[str] | bool, *, vectors: bool = False, page: int = SCROLL_PAGE
    ) -> Iterator[Any]:
        """Every point matching ``flt`` (None: all), page by page."""

    @abc.abstractmethod
    def _doc_filter(self, doc_ids: Sequence[str]) -> Any:
        """The filter matching every span of ``doc_ids``."""

    def scan_spans(
        self, doc_ids: Sequence[str] | None, fields: Sequence[str]
    ) -> Iterable[dict[str, Any]]:
        flt = None if doc_ids is None else self._doc_filter(doc_ids)
        for point in self._scroll(flt, list(fields)):
            payload = point.payload or {}
            if is_span(payload, fields):
                yield payload

    def iter_records(self, batch_size: int = 256) -> Iterator[list[SpanRecord]]:
        points = self._scroll(None, True, vectors=True, page=batch_size)
        records = (to_record(p.id, p.vector, p.payload or {}) for p in points)
        yield from size_bounded((r for r in records if r is not None), lambda _: 1, batch_size)

    def fetch_spans(self, doc_id: str) -> list[SpanRecord]:
        points = self._scroll(self._doc_filter([doc_id]), True, vectors=True)
        records = [to_record(p.id, p.vector, p.payload or {}) for p in points]
        return sorted((r for r in records if r is not None), key=lambda r: r.span_index)
