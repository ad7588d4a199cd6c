"""Fixtures for the LlamaIndex adapter: embedders over the shared tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

import harrier
from llama_index.embeddings.harrier import HarrierEmbedding


@pytest.fixture
def engine(model_path: Path) -> harrier.Embedder:
    """The engine itself: the reference the adapter must route to."""
    return harrier.Embedder.from_pretrained(model_path, device="cpu")


@pytest.fixture
def embedding(model_path: Path) -> HarrierEmbedding:
    return HarrierEmbedding(model_name=str(model_path), device="cpu")


@pytest.fixture(scope="session")
def qwen_engine(qwen_path: Path) -> harrier.Embedder:
    return harrier.Embedder.from_pretrained(qwen_path, device="cpu")


@pytest.fixture(scope="session")
def qwen_embedding(qwen_path: Path) -> HarrierEmbedding:
    return HarrierEmbedding(model_name=str(qwen_path), device="cpu")
