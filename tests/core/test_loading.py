"""Loading: local folders, Hub failures that fail fast, safetensors only, no remote code."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harrier


def test_unknown_model_not_in_cache_is_a_typed_error():
    """The suite's Hugging Face cache is an empty folder (tests/conftest.py), whatever the
    user's cache holds."""
    with pytest.raises(harrier.ModelNotFoundError, match="local folder"):
        harrier.Embedder.from_pretrained("microsoft/harrier-oss-v1-270m", local_files_only=True)


def test_missing_local_folder_is_a_typed_error(tmp_path):
    with pytest.raises(harrier.ModelNotFoundError, match="does not exist"):
        harrier.Embedder.from_pretrained(str(tmp_path / "no" / "such" / "model"))


def test_unreachable_hub_fails_fast_with_clear_message(tmp_path):
    """The Hub endpoint is a closed local port: the error must come at once, not hang."""
    env = dict(
        os.environ, HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path), HF_HUB_OFFLINE="0"
    )
    code = (
        "import harrier\n"
        "try:\n"
        "    harrier.Embedder.from_pretrained('microsoft/harrier-oss-v1-270m')\n"
        "except harrier.ModelNotFoundError as exc:\n"
        "    print('TYPED', exc)\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert time.monotonic() - started < 60
    assert result.stdout.startswith("TYPED"), result.stderr[-2000:]
    assert "microsoft/harrier-oss-v1-270m" in result.stdout
    assert "local folder" in result.stdout


def test_pickle_weights_are_refused(tmp_path, qwen_path):
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(qwen_path, folder)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    with pytest.raises(harrier.ModelLoadError, match="safetensors"):
        harrier.Embedder.from_pretrained(folder, device="cpu")


def test_remote_code_is_not_run_by_default(tmp_path, qwen_path):
    folder = tmp_path / "remote"
    shutil.copytree(qwen_path, folder)
    marker = tmp_path / "executed"
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import Qwen3Config as EvilConfig\n"
        "from transformers import Qwen3Model as EvilModel\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with contextlib.suppress(harrier.HarrierError, ValueError):
        harrier.Embedder.from_pretrained(folder, device="cpu")
    assert not marker.exists()


def test_harrier_limit_applies_to_hub_named_folders(tmp_path, qwen_path):
    """A snapshot of a Harrier repo is capped at 32,768 tokens whatever its config says."""
    folder = tmp_path / "models--microsoft--harrier-oss-v1-27b" / "snapshots" / "abc"
    shutil.copytree(qwen_path, folder)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 131_072
    (folder / "config.json").write_text(json.dumps(config))
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    tok_config["model_max_length"] = 131_072
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    engine = harrier.Embedder.from_pretrained(folder, device="cpu")
    assert engine.max_tokens == 32_768


def test_unsupported_pooling_is_refused(tmp_path, qwen_path):
    folder = tmp_path / "cls"
    shutil.copytree(qwen_path, folder)
    pooling = Path(folder / "1_Pooling" / "config.json")
    config = json.loads(pooling.read_text())
    config["pooling_mode_lasttoken"] = False
    config["pooling_mode_cls_token"] = True
    pooling.write_text(json.dumps(config))
    with pytest.raises(harrier.ConfigurationError, match="pooling_mode_cls_token"):
        harrier.Embedder.from_pretrained(folder, device="cpu")


def test_hub_timeouts_apply_in_this_process(monkeypatch):
    """huggingface_hub reads its timeouts at import, so harrier sets its own in the module."""
    from huggingface_hub import constants

    from harrier._model_files import HUB_DOWNLOAD_TIMEOUT

    monkeypatch.delenv("HF_HUB_DOWNLOAD_TIMEOUT", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 10)
    with pytest.raises(harrier.ModelNotFoundError):
        harrier.Embedder.from_pretrained("harrier-test/not-cached", local_files_only=True)
    assert constants.HF_HUB_DOWNLOAD_TIMEOUT == HUB_DOWNLOAD_TIMEOUT == 30


def test_a_timeout_the_user_set_is_kept(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "7")
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 7)
    with pytest.raises(harrier.ModelNotFoundError):
        harrier.Embedder.from_pretrained("harrier-test/not-cached", local_files_only=True)
    assert constants.HF_HUB_DOWNLOAD_TIMEOUT == 7


def test_the_suite_never_sees_the_users_hugging_face_cache():
    """An autouse fixture points the cache at a temporary folder, for this process and
    for subprocesses, so a model in ~/.cache/huggingface changes no result."""
    from huggingface_hub import constants

    user_cache = Path("~/.cache/huggingface").expanduser()
    for path in (constants.HF_HOME, constants.HF_HUB_CACHE, os.environ["HF_HUB_CACHE"]):
        assert not Path(path).is_relative_to(user_cache)
        assert "hf-home" in Path(path).as_posix()
    assert not any(Path(constants.HF_HUB_CACHE).glob("models--*"))


def test_quantization_and_device_map_are_checked(qwen_path):
    import importlib.util

    from harrier import ConfigurationError, Embedder, EmbedderSettings

    for fields, message in (
        ({"quantization": "3bit"}, "quantization"),
        ({"device_map": "everywhere"}, "device_map"),
        ({"device_map": "auto", "devices": ["cpu:0", "cpu:1"]}, "one of them"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            EmbedderSettings(**fields)
    with pytest.raises(ConfigurationError, match="CUDA only"):
        Embedder.from_pretrained(qwen_path, device="cpu", quantization="8bit")
    if importlib.util.find_spec("accelerate") is None:
        with pytest.raises(ConfigurationError, match="pip install accelerate"):
            Embedder.from_pretrained(qwen_path, device="cpu", device_map="auto")
