"""Helpers that build small random Harrier-shaped models, for tests, benchmarks and examples.

Weights are random, so outputs carry no meaning, but every file a real Harrier repo ships is
written (config, safetensors weights, tokenizer, sentence-transformers metadata), so loading goes
through the same code path as a download from the Hub. A model of the real size costs the real
compute.
"""

from __future__ import annotations

from harrier.testing._serving import serve_in_thread
from harrier.testing._tiny_models import (
    HARRIER_PROMPTS,
    SHAPES,
    ModelShape,
    build_model,
    train_tokenizer,
)

__all__ = [
    "HARRIER_PROMPTS",
    "SHAPES",
    "ModelShape",
    "build_model",
    "serve_in_thread",
    "train_tokenizer",
]
