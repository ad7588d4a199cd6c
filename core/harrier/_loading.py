"""Load a model and its tokenizer once per (folder, device, dtype) and share it."""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harrier import _packing
from harrier._errors import ConfigurationError, ModelLoadError
from harrier._model_files import ModelFiles, read_model_files
from harrier._prefix_cache import PrefixCache
from harrier._settings import dtype_name

logger = logging.getLogger("harrier")

HARRIER_MAX_TOKENS = 32_768


@dataclass(eq=False)
class LoadedModel:
    """A model, its tokenizer and metadata, shared by every embedder that asks for the same key."""

    model: Any
    tokenizer: Any
    files: ModelFiles
    model_type: str
    device: torch.device
    dtype: torch.dtype
    dimension: int
    limit: int
    packable: bool = False
    """Loaded with harrier's attention (``harrier._packing``), so batches can be packed."""
    prefix_cache: PrefixCache = field(init=False)
    tokenizer_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    """Fast tokenizers fail ("Already borrowed") when two threads change truncation at once."""

    def __post_init__(self) -> None:
        self.prefix_cache = PrefixCache(
            self.model, self.tokenizer, self.device, self.tokenizer_lock
        )

    @functools.cached_property
    def special_array(self) -> np.ndarray:
        """The tokenizer's special token ids (a text of only these is empty)."""
        return np.array(sorted(set(self.tokenizer.all_special_ids)), dtype=np.int32)

    @functools.cached_property
    def causal(self) -> bool:
        """Every attention layer is causal: a token never sees the ones after it, so padding
        on the right changes nothing before it and needs no attention mask."""
        flags = [
            m.is_causal
            for m in self.model.modules()
            if isinstance(getattr(m, "is_causal", None), bool)
        ]
        config = getattr(self.model, "config", None)
        return (
            bool(flags) and all(flags) and not getattr(config, "use_bidirectional_attention", False)
        )

    @functools.cached_property
    def vocab_rows(self) -> int:
        """How many token ids the model has embeddings for."""
        return int(self.model.get_input_embeddings().num_embeddings)


_registry: weakref.WeakValueDictionary[tuple[str, ...], LoadedModel] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigurationError(f"invalid device {device!r}: {exc}") from exc


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None`` means bfloat16 on CUDA and float32 elsewhere."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    return getattr(torch, dtype_name(dtype))  # type: ignore[no-any-return]


def load_model(
    folder: Path,
    *,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    quantization: str | None = None,
    device_map: str | None = None,
) -> LoadedModel:
    """Return the shared ``LoadedModel`` for this key, loading it on first use."""
    key = (
        str(folder.resolve()),
        str(device),
        str(dtype),
        str(trust_remote_code),
        str(attn_implementation),
        str(quantization),
        str(device_map),
    )
    with _lock:
        loaded = _registry.get(key)
        if loaded is None:
            placement = _placement(device, dtype, quantization, device_map)
            loaded = _load(folder, device, dtype, trust_remote_code, attn_implementation, placement)
            _registry[key] = loaded
        else:
            logger.debug("reusing loaded model %s on %s (%s)", folder, device, dtype)
        return loaded


def _load(
    folder: Path,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool,
    attn_implementation: str | None,
    placement: dict[str, Any] | None = None,
) -> LoadedModel:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    files = read_model_files(folder)
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the model config in {folder}: {exc}") from exc
    model_type = str(getattr(config, "model_type", ""))
    if dtype == torch.float16 and model_type.startswith("gemma3"):
        raise ConfigurationError(
            "float16 breaks Gemma-3 models (empty or garbage embeddings); use "
            "dtype='bfloat16' on GPU or 'float32' on CPU"
        )
    packable = model_type in _packing.PACKABLE_MODELS and attn_implementation in (None, "sdpa")
    if packable:  # SDPA, plus packed batches (harrier._packing)
        attn_implementation = _packing.register()
    logger.info("loading %s (%s) on %s as %s", folder, model_type, device, dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModel.from_pretrained(
            folder,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            attn_implementation=attn_implementation,
            **(placement or {}),
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"cannot load the model in {folder} (harrier loads safetensors weights only): {exc}"
        ) from exc
    if placement:  # placed by transformers: inputs go where the token embeddings are
        device = model.get_input_embeddings().weight.device
    else:
        model.to(device)
    model.eval()
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        files=files,
        model_type=model_type,
        device=device,
        dtype=dtype,
        dimension=int(text_config.hidden_size),
        limit=_token_limit(folder, tokenizer, text_config),
        packable=packable and not getattr(text_config, "use_bidirectional_attention", False),
    )


def _placement(
    device: torch.device, dtype: torch.dtype, quantization: str | None, device_map: str | None
) -> dict[str, Any]:
    """``from_pretrained`` arguments for 8-/4-bit weights (bitsandbytes) and for a model spread
    over several GPUs (accelerate's ``device_map``); a clear error where a library is missing."""
    import importlib.util

    placement: dict[str, Any] = {}
    if device_map is not None:
        if importlib.util.find_spec("accelerate") is None:
            raise ConfigurationError(
                f"device_map={device_map!r} needs accelerate: pip install accelerate"
            )
        placement["device_map"] = device_map
    if quantization is not None:
        if device.type != "cuda":
            raise ConfigurationError(
                f"quantization={quantization!r} runs on CUDA only (bitsandbytes); on {device} "
                "use dtype='float32' or 'bfloat16'"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigurationError(
                f"quantization={quantization!r} needs bitsandbytes: pip install bitsandbytes"
            )
        from transformers import BitsAndBytesConfig

        bits: dict[str, Any] = (
            {"load_in_8bit": True}
            if quantization == "8bit"
            else {"load_in_4bit": True, "bnb_4bit_compute_dtype": dtype}
        )
        placement["quantization_config"] = BitsAndBytesConfig(**bits)
        placement.setdefault("device_map", {"": device.index or 0})
    return placement


def _token_limit(folder: Path, tokenizer: Any, config: Any) -> int:
    """The longest input the model takes: Harrier's 32,768, or what tokenizer and config say."""
    candidates = [int(getattr(config, "max_position_embeddings", 0) or 0)]
    if 0 < int(tokenizer.model_max_length) < 1_000_000:
        candidates.append(int(tokenizer.model_max_length))
    if "harrier-oss-v1" in str(folder).lower():
        candidates.append(HARRIER_MAX_TOKENS)
    limits = [c for c in candidates if c > 0]
    return min(limits) if limits else HARRIER_MAX_TOKENS
