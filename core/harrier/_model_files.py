"""Find a model's folder (local or Hub cache) and read its sentence-transformers metadata."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harrier._errors import ConfigurationError, ModelNotFoundError, UnknownPromptError

logger = logging.getLogger("harrier")

HARRIER_RETRIEVAL_PROMPT = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
)
"""The query prompt used when a model ships none (Harrier's ``web_search_query``)."""

HUB_ETAG_TIMEOUT = 10
"""Seconds to wait for the Hub's metadata answer (``HF_HUB_ETAG_TIMEOUT`` overrides it)."""
HUB_DOWNLOAD_TIMEOUT = 30
"""Seconds a weight download may stall (``HF_HUB_DOWNLOAD_TIMEOUT`` overrides it)."""

_ALLOWED_FILES = ["*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*/*.json"]
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
_POOLING_KEYS = {"pooling_mode_lasttoken": "lasttoken", "pooling_mode_mean_tokens": "mean"}


@dataclass(frozen=True)
class ModelFiles:
    """What the engine needs to know from a model folder besides the weights."""

    folder: Path
    pooling: str = "lasttoken"
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None


def model_folder(
    model: str, *, revision: str | None = None, local_files_only: bool = False
) -> Path:
    """Return a local folder holding ``model``: the path itself or a Hub snapshot.

    Raises ``ModelNotFoundError`` quickly (no hang) when the model is not cached and the Hub is
    unreachable or has no such repository.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if os.sep in model and not _looks_like_repo_id(model):
        raise ModelNotFoundError(f"model folder {model!r} does not exist")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            model,
            revision=revision,
            local_files_only=local_files_only,
            allow_patterns=_ALLOWED_FILES,
            etag_timeout=apply_hub_timeouts(),
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as exc:
        where = "in the local cache" if local_files_only else "locally or on the Hugging Face Hub"
        raise ModelNotFoundError(
            f"model {model!r} (revision {revision or 'main'}) was not found {where}: "
            f"{str(exc).rstrip('.')}. "
            "Pass a local folder holding the model, or download it first on a machine with "
            f"access to the Hub (hf download {model}) and copy its folder here."
        ) from exc
    return Path(folder)


def apply_hub_timeouts() -> float:
    """Set harrier's download timeout in ``huggingface_hub`` (read at import, so changing the
    environment now would be too late) unless the user set one; return the metadata timeout."""
    from huggingface_hub import constants

    if "HF_HUB_DOWNLOAD_TIMEOUT" not in os.environ:
        constants.HF_HUB_DOWNLOAD_TIMEOUT = HUB_DOWNLOAD_TIMEOUT
    if "HF_HUB_ETAG_TIMEOUT" in os.environ:
        return float(constants.HF_HUB_ETAG_TIMEOUT)
    return float(HUB_ETAG_TIMEOUT)


def _looks_like_repo_id(model: str) -> bool:
    parts = model.split("/")
    return len(parts) == 2 and all(parts) and not model.startswith((".", "/", "~"))


def read_model_files(folder: Path) -> ModelFiles:
    """Read pooling mode and prompts from the sentence-transformers files, if present."""
    pooling = "lasttoken"
    modules = _read_json(folder / "modules.json")
    if modules is not None:
        for module in modules:
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            if kind not in _SUPPORTED_MODULES:
                raise ConfigurationError(
                    f"{folder}: module {module.get('type')!r} in modules.json is not supported; "
                    f"harrier runs models made of {', '.join(_SUPPORTED_MODULES)} only"
                )
            if kind == "Pooling":
                pooling = _pooling_mode(folder / module.get("path", "") / "config.json")
    st_config = _read_json(folder / "config_sentence_transformers.json") or {}
    prompts = dict(st_config.get("prompts") or {})
    default_name = st_config.get("default_prompt_name")
    return ModelFiles(folder, pooling, prompts, default_name)


def _pooling_mode(config_path: Path) -> str:
    config = _read_json(config_path) or {}
    enabled = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
    modes = [_POOLING_KEYS.get(key) for key in enabled]
    if len(modes) != 1 or modes[0] is None:
        raise ConfigurationError(
            f"{config_path}: pooling {enabled or 'none'} is not supported; harrier supports "
            "exactly one of pooling_mode_lasttoken or pooling_mode_mean_tokens"
        )
    if modes[0] == "mean" and config.get("include_prompt") is False:
        raise ConfigurationError(
            f"{config_path}: mean pooling with include_prompt=false is not supported"
        )
    return modes[0]


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def query_prompt(
    prompts: dict[str, str],
    default: str,
    instruction: str | None = None,
    prompt_name: str | None = None,
) -> str:
    """The text put before every query: the rule of ``Embedder.query_prompt``, given the
    model's named ``prompts`` and its ``default`` prompt."""
    if instruction is not None and prompt_name is not None:
        raise ConfigurationError("pass either instruction or prompt_name, not both")
    if instruction is not None:
        return f"Instruct: {instruction}\nQuery: "
    if prompt_name is not None:
        if prompt_name not in prompts:
            raise UnknownPromptError(
                f"unknown prompt name {prompt_name!r}; this model ships "
                f"{sorted(prompts) or 'no prompts'}"
            )
        return prompts[prompt_name]
    return default
