"""The embedding stage's parts: progress moves between them, and they never shrink the engine's
batches (an H200 ingest fell to 0.53x of embedding alone while parts were 16,384 tokens and a
GPU batch 65,536)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import harrier
from harrier import SourceDocument
from harrier.ingestion._ingest import PART_TOKENS, part_tokens


@pytest.mark.parametrize(
    ("engine", "tokens"),
    [
        (SimpleNamespace(max_batch_tokens=8_192, devices=["cpu"]), PART_TOKENS),
        (SimpleNamespace(max_batch_tokens=65_536, devices=["cuda:0"]), 65_536),
        (SimpleNamespace(max_batch_tokens=65_536, devices=["cuda:0", "cuda:1"]), 131_072),
        (SimpleNamespace(max_batch_tokens=65_536), 65_536),
        (SimpleNamespace(), PART_TOKENS),  # a server: no batch budget here
    ],
)
def test_a_part_holds_a_full_batch_per_device(engine, tokens):
    assert part_tokens(engine) == tokens


def test_a_group_within_the_engine_budget_is_embedded_in_one_call(tmp_path, qwen_path):
    from harrier_qdrant import QdrantStore

    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=65_536)
    calls: list[int] = []
    embed = engine.embed_token_ids

    def counting(rows, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(sum(len(row) for row in rows))
        return embed(rows, **kwargs)

    engine.embed_token_ids = counting  # type: ignore[method-assign]
    text = "Rivers carry water from the hills down to the sea. " * 300
    docs = [SourceDocument(f"d{i}", text) for i in range(6)]
    store = QdrantStore("parts", path=tmp_path / "edge")
    report = harrier.ingest(docs, store, engine, max_tokens=2_048, quiet=True)
    store.close()
    assert 2 * PART_TOKENS < report.tokens < 65_536
    assert calls == [report.tokens]
