"""What one ingestion run did, counted the same way by every pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class IngestReport:
    """The summary of one ingestion run."""

    documents: int = 0
    unchanged: int = 0
    skipped: int = 0
    spans_written: int = 0
    spans_deleted: int = 0
    documents_pruned: int = 0
    tokens: int = 0
    seconds: float = 0.0
    skip_reasons: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_second": round(self.tokens_per_second, 1)}

    def summary(self) -> str:
        return (
            f"{self.documents} documents seen, {self.unchanged} unchanged, {self.skipped} "
            f"skipped, {self.spans_written} spans written, {self.spans_deleted} spans deleted, "
            f"{self.documents_pruned} documents pruned, {self.tokens} tokens embedded in "
            f"{self.seconds:.1f} s ({self.tokens_per_second:,.0f} tokens/s)"
        )
