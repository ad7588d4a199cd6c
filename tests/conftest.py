"""Session fixtures: tiny random Harrier-shaped models saved like a Hub download."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harrier.testing import build_model

ARCHS = ["tiny-gemma3", "tiny-qwen3"]


_HF_CONSTANTS = {
    "HF_HOME": "",
    "HF_HUB_CACHE": "hub",
    "HUGGINGFACE_HUB_CACHE": "hub",
    "HF_ASSETS_CACHE": "assets",
    "HUGGINGFACE_ASSETS_CACHE": "assets",
    "HF_XET_CACHE": "xet",
    "HF_TOKEN_PATH": "token",
    "HF_STORED_TOKENS_PATH": "stored_tokens",
}


@pytest.fixture(scope="session", autouse=True)
def _hermetic_hugging_face_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every subprocess it starts) sees an empty Hugging Face cache of its own,
    never the user's ``~/.cache/huggingface``: set for new processes in the environment, and for
    this one in ``huggingface_hub.constants``, which read the environment at import."""
    from huggingface_hub import constants

    home = tmp_path_factory.mktemp("hf-home")
    with pytest.MonkeyPatch.context() as patch:
        for name, sub in _HF_CONSTANTS.items():
            patch.setenv(name, str(home / sub))
            if hasattr(constants, name):
                patch.setattr(constants, name, str(home / sub))
        patch.setenv("HF_MODULES_CACHE", str(home / "modules"))
        patch.delenv("HF_TOKEN", raising=False)
        yield home


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of tiny models by name: both architectures, a mean-pooled and a left-padded one."""
    root = tmp_path_factory.mktemp("models")
    folders = {name: build_model(root / name, name) for name in ARCHS}
    folders["tiny-qwen3-mean"] = build_model(root / "tiny-qwen3-mean", "tiny-qwen3", pooling="mean")
    for name in ARCHS:
        left = root / f"{name}-left"
        shutil.copytree(folders[name], left)
        config_path = left / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config["padding_side"] = "left"
        config_path.write_text(json.dumps(config))
        folders[f"{name}-left"] = left
    return folders


@pytest.fixture(params=ARCHS)
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def model_path(model_dir: dict[str, Path], arch: str) -> Path:
    """Each architecture in turn."""
    return model_dir[arch]


@pytest.fixture(scope="session")
def qwen_path(model_dir: dict[str, Path]) -> Path:
    return model_dir["tiny-qwen3"]


@pytest.fixture(scope="session")
def gemma_path(model_dir: dict[str, Path]) -> Path:
    return model_dir["tiny-gemma3"]


@pytest.fixture
def compile_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Compiled code in this test's folder (never the user's inductor cache), forgotten after."""
    import torch

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture(autouse=True)
def _quiet_transformers_progress() -> None:
    logging.getLogger("transformers").setLevel(logging.ERROR)


MIXED_TEXTS = [
    "hello",
    "Paris is the capital and most populous city of France.",
    "机器学习是人工智能的一个分支。向量数据库存储嵌入。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "Emoji 🙂🚀🔥 mixed with code: def f(x): return x * 2",
    "The quick brown fox jumps over the lazy dog. " * 40,
    "   leading and trailing whitespace   \n\n",
    "Der schnelle braune Fuchs. " * 120,
]


@pytest.fixture
def mixed_texts() -> list[str]:
    """Texts of very different lengths and scripts (1 to about 1,500 tokens)."""
    return list(MIXED_TEXTS)
