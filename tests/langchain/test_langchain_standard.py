"""LangChain's own standard test suites (langchain-tests), run on a tiny random model."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from harrier.testing import build_model
from langchain_harrier import HarrierEmbeddings


@functools.cache
def tiny_model_folder() -> str:
    """A tiny Qwen3-shaped model, built once per process (the suites read params from a
    property, so a pytest fixture cannot supply them)."""
    root = Path(tempfile.mkdtemp(prefix="langchain-harrier-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return str(build_model(root / "tiny-qwen3", "tiny-qwen3"))


class TestHarrierEmbeddingsStandardUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[HarrierEmbeddings]:
        return HarrierEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": tiny_model_folder(), "device": "cpu"}


class TestHarrierEmbeddingsStandardIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[HarrierEmbeddings]:
        return HarrierEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": tiny_model_folder(), "device": "cpu"}
