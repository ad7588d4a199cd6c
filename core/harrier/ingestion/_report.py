"""What one ingestion run did, counted the same way by every pipeline."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from harrier.sources._documents import Skipped

logger = logging.getLogger("harrier")

SKIP_EXAMPLES = 3
"""How many document ids the report keeps per skip reason (the skip log has them all)."""


@dataclass
class IngestReport:
    """The summary of one ingestion run."""

    documents: int = 0
    unchanged: int = 0
    skipped: int = 0
    spans_written: int = 0
    spans_deleted: int = 0
    documents_pruned: int = 0
    prune_skipped: str | None = None
    """Why a pruning run deleted nothing: records whose ids could not be read (see the log)."""
    spans_resumed: int = 0
    """Spans a stopped run had written of a document's current version, kept, not embedded."""
    tokens: int = 0
    seconds: float = 0.0
    skips: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Skipped documents by reason: ``{reason: {"count": n, "examples": [ids]}}``."""
    skip_log: Any = field(default=None, repr=False, compare=False)
    """A text stream that gets every skip as a JSON line ``{"id", "reason"}``, if set."""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def skip_reasons(self) -> list[str]:
        """``"id: reason"`` of the examples kept for each reason."""
        return [
            f"{doc_id}: {reason}"
            for reason, group in self.skips.items()
            for doc_id in group["examples"]
        ]

    def add_skip(self, item: Skipped) -> None:
        """Count a skipped document under its reason (the text before the first ``": "``)."""
        self.skipped += 1
        group = self.skips.setdefault(item.reason.partition(": ")[0], {"count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < SKIP_EXAMPLES:
            group["examples"].append(item.id)
        logger.info("skipped %s: %s", item.id, item.reason)
        if self.skip_log is not None:
            self.skip_log.write(
                json.dumps({"id": item.id, "reason": item.reason}, ensure_ascii=False) + "\n"
            )

    def to_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if k != "skip_log"}
        return {**fields, "tokens_per_second": round(self.tokens_per_second, 1)}

    def summary(self) -> str:
        resumed = f", {self.spans_resumed} spans kept from a stopped run" * bool(self.spans_resumed)
        return (
            f"{self.documents} documents seen, {self.unchanged} unchanged, {self.skipped} "
            f"skipped, {self.spans_written} spans written{resumed}, {self.spans_deleted} spans "
            f"deleted, {self.documents_pruned} documents pruned"
            f"{f' (prune skipped: {self.prune_skipped})' if self.prune_skipped else ''}, "
            f"{self.tokens} tokens embedded in "
            f"{self.seconds:.1f} s ({self.tokens_per_second:,.0f} tokens/s)"
        )
