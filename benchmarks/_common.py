"""Shared benchmark helpers: random corpora of known token lengths, and peak-memory probes."""

from __future__ import annotations

import random
import resource
import threading
from pathlib import Path

import torch

from harrier.testing import SHAPES, build_model

_WORDS = (
    "the of and to in is that for it as with was on be by this are from at or an which "
    "retrieval embedding vector search query document passage model token span index store "
    "Paris France capital river city music history science language water energy system "
    "机器 学习 向量 数据库 東京 검색 الثعلب Быстрая 🙂 def return class import"
).split()


def model_folder(cache: Path, shape: str, layers: int | None) -> Path:
    """Build (once) a random model of a named shape, optionally with fewer layers."""
    spec = SHAPES[shape] if layers is None else SHAPES[shape].with_layers(layers)
    folder = cache / f"{shape}-L{spec.num_layers}"
    if not (folder / "model.safetensors").exists():
        build_model(folder, spec, tokenizer_vocab=4000)
    return folder


def corpus(tokenizer, count: int, low: int, high: int, seed: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` texts whose token lengths are log-uniform in [low, high]."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = round(low * (high / low) ** rng.random())
        words = [rng.choice(_WORDS) for _ in range(target)]
        text = " ".join(words)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][: max(1, target - 2)]
        texts.append(tokenizer.decode(ids))
    return texts


def rss_mib() -> float:
    """Current resident memory of this process, in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class PeakMemory:
    """Samples resident memory in a thread; ``peak_mib`` is the rise above the start."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        self._base = rss_mib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, rss_mib() - self._base)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, rss_mib() - self._base)


def device_peak_mib(device: str) -> float | None:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def table(rows: list[dict[str, object]]) -> str:
    """Render rows as a Markdown table."""
    if not rows:
        return ""
    keys = list(dict.fromkeys(k for row in rows for k in row))  # every column, in first-seen order
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[k]) if k in row else "" for k in keys) + " |")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 else f"{value:,.2f}"
    return str(value)


def random_unit_vectors(count: int, dimension: int, seed: int = 3):  # type: ignore[no-untyped-def]
    """``count`` random L2-normalised float32 vectors (stand-ins for embeddings)."""
    import numpy as np

    vectors = np.random.default_rng(seed).standard_normal((count, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def load_random_spans(store, identity, vectors, text_of) -> float:  # type: ignore[no-untyped-def]
    """Write one single-span document per vector (``text_of(i)`` its text, metadata
    ``{"i": i % 10}``) in the store's batches, then end the bulk load as ingestion does (Edge
    builds its HNSW index there); the seconds it all took."""
    import time

    import harrier

    store.ensure_collection(identity, vectors.shape[1])
    started = time.perf_counter()
    for begin in range(0, len(vectors), store.max_batch_count):
        batch = []
        for i in range(begin, min(begin + store.max_batch_count, len(vectors))):
            text = text_of(i)
            batch.append(
                harrier.SpanRecord(
                    id=harrier.span_id(f"d{i}", 0),
                    vector=vectors[i],
                    text=text,
                    doc_id=f"d{i}",
                    span_index=0,
                    span_count=1,
                    start=0,
                    end=len(text),
                    token_count=len(text) // 4,
                    doc_hash="h",
                    model="bench",
                    metadata={"i": i % 10},
                )
            )
        store.upsert(batch)
    store.end_bulk_load()
    return time.perf_counter() - started
