"""Milvus Lite's size limit, made explicit: one warning when a collection outgrows it.

Milvus Lite 3.2 scans every row for each search and each filtered query (it keeps a FLAT
index and ignores scalar indexes: an INVERTED index on ``doc_id`` did not make the skip check
faster). Measured on 2 cores, dimension 640, ~1.5 KB of text per span: a search takes 86 ms
at 1,024 spans, 353 ms at 2,048, 1.8 s at 8,192; a 64-document skip check 135 ms -> 2.5 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger("harrier")

LITE_SEARCH_LIMIT = 1_000
"""Spans (at dimension 640) past which one Milvus Lite search takes over ~100 ms."""


class LiteSizeWatch:
    """Counts a Lite collection's spans as they are written; warns once past the limit."""

    def __init__(self, collection: str, limit: int = LITE_SEARCH_LIMIT) -> None:
        self.collection = collection
        self.limit = limit
        self.spans: int | None = None
        self.warned = False

    def written(self, count: Callable[[], int], added: int) -> None:
        """After a write of ``added`` spans; ``count`` is asked once, at the first write."""
        if self.warned:
            return
        if self.spans is None:
            self.spans = count()
        else:
            self.spans += added
        if self.spans > self.limit:
            self.warned = True
            logger.warning(
                "Milvus Lite collection %s holds over %d spans: each search now takes over "
                "~100 ms and grows with the collection. For more, use the embedded Qdrant "
                "store (--store qdrant), or a Milvus server (harrier copy --from milvus:PATH "
                "--to milvus:http://HOST:19530 --collection %s)",
                self.collection,
                self.limit,
                self.collection,
            )
