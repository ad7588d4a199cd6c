"""Helpers that build small random Harrier-shaped models, for tests, benchmarks and examples.

Weights are random, so outputs carry no meaning, but every file a real Harrier repo ships is
written (config, safetensors weights, tokenizer, sentence-transformers metadata), so loading goes
through the same code path as a download from the Hub. A model of the real size costs the real
compute.

:class:`StoreContract`, :class:`ConverterContract` and :class:`EngineContract` (imported on
first use: they need pytest) are the test suites a store, a converter and an engine pass
(docs/writing-a-store.md, docs/writing-a-converter.md, docs/writing-an-engine.md).
"""

from __future__ import annotations

from typing import Any

from harrier.testing._serving import serve_in_thread
from harrier.testing._tiny_models import (
    HARRIER_PROMPTS,
    SHAPES,
    ModelShape,
    build_model,
    tiny_embedder,
    train_tokenizer,
)

__all__ = [
    "HARRIER_PROMPTS",
    "SHAPES",
    "ConverterContract",
    "EngineContract",
    "ModelShape",
    "StoreContract",
    "build_model",
    "serve_in_thread",
    "tiny_embedder",
    "train_tokenizer",
]


def __getattr__(name: str) -> Any:
    if name == "StoreContract":
        from harrier.testing.store_contract import StoreContract

        return StoreContract
    if name == "ConverterContract":
        from harrier.testing.converter_contract import ConverterContract

        return ConverterContract
    if name == "EngineContract":
        from harrier.testing.engine_contract import EngineContract

        return EngineContract
    raise AttributeError(f"module 'harrier.testing' has no attribute {name!r}")
