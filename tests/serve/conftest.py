"""A tiny-model engine served on a free loopback port, shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import harrier
from harrier.testing import serve_in_thread


@pytest.fixture(scope="module")
def engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(
        qwen_path, device="cpu", dtype="float32", max_tokens=256
    )


@pytest.fixture(scope="module")
def server(engine: harrier.Embedder) -> Iterator[str]:
    with serve_in_thread(engine, served_names=["tiny"]) as url:
        yield url
