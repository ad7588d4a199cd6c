"""``EmbedderSettings``: everything that decides how a model is loaded and run, as one value."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from harrier._errors import ConfigurationError

DEFAULT_MODEL = "microsoft/harrier-oss-v1-270m"
DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}
"""Accepted dtype spellings and the name each stands for (``torch.float32`` is accepted too)."""


@dataclass(frozen=True)
class EmbedderSettings:
    """How to load and run an embedding model; frozen, hashable and picklable.

    ``Embedder.from_settings(settings)`` builds the engine; the same value can be sent to other
    processes (Ray actors) to build the same engine there. Every field is checked here, so a bad
    value fails where it is written, not when the model loads. ``None`` means "the default";
    zero never does (``max_tokens=0`` is an error, as in ``split_spans``).

    - ``model``: Hub id or local folder; ``revision``: Hub branch, tag or commit;
      ``local_files_only``: never contact the Hub.
    - ``device``: ``cpu``, ``cuda``, ``cuda:1``; None: CUDA when present. ``devices``: several
      devices of one type (``("cuda:0", "cuda:1")``), one model replica each, the batches of
      every call spread over them (``device`` is then their first, or None). ``dtype``: ``float32``,
      ``bfloat16``, ``float16``; None: bfloat16 on CUDA, float32 elsewhere.
    - ``max_tokens``: longest text accepted (None: the model's limit); longer texts raise
      ``TextTooLongError`` unless ``truncate``.
    - ``max_batch_tokens``: padded tokens per forward pass (None: 65,536 on CUDA, 8,192 else).
    - ``prefix_cache``: reuse the query prompt's key/value states (exact; last-token models);
      None: on for CPU, off for CUDA, where it measured slower.
    - ``packing``: run each batch's texts packed into one sequence, without padding (exact;
      causal ``gemma3_text``/``qwen3`` models on SDPA); None: on where variable-length flash
      attention runs (CUDA, bfloat16/float16), off elsewhere, where padded batches are faster.
    - ``cuda_graphs``: replay small batches (queries: up to 16 texts of up to 256 tokens) from
      captured CUDA graphs, without per-kernel launch cost; None: on for causal models on one
      CUDA device (measured 5-6x faster at batch 1 on an H200), off elsewhere.
    - ``compile``: run the forward under ``torch.compile`` (inductor, dynamic shapes), so
      norms, rotary embeddings and activations run fused: packed batches call it, and the CUDA
      graphs capture it. The first packed batch and the first small batch of a process compile
      (tens of seconds each). CUDA only (each of ``devices`` compiles its own), not with
      ``quantization`` or ``device_map``; off by default.
    - ``quantization``: ``"8bit"`` or ``"4bit"`` weights (bitsandbytes, CUDA; the 27b in 16 or
      9 GB instead of 54), parity to bfloat16 printed by ``benchmarks/gpu.sh quantized``.
      ``device_map``: ``"auto"`` spreads one model over every GPU (accelerate), for a model
      that fits no single card. Both refuse with a clear error when the library is missing.
    - ``trust_remote_code``, ``attn_implementation``: passed to transformers.
    - ``show_progress``: a progress bar while embedding.
    """

    model: str = DEFAULT_MODEL
    revision: str | None = None
    local_files_only: bool = False
    device: str | None = None
    devices: tuple[str, ...] | None = None
    dtype: str | None = None
    max_tokens: int | None = None
    truncate: bool = False
    max_batch_tokens: int | None = None
    prefix_cache: bool | None = None
    packing: bool | None = None
    cuda_graphs: bool | None = None
    compile: bool = False
    quantization: str | None = None
    device_map: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    show_progress: bool = False

    def __post_init__(self) -> None:
        model = self.model
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"model must be a Hub id or a folder, got {model!r}")
        object.__setattr__(self, "model", model)
        if self.device is not None:
            object.__setattr__(self, "device", checked_device(self.device))
        if self.devices is not None:
            object.__setattr__(self, "devices", _checked_devices(self.devices, self.device))
        if self.dtype is not None:
            object.__setattr__(self, "dtype", dtype_name(self.dtype))
        if self.quantization not in (None, "8bit", "4bit"):
            raise ConfigurationError(
                f"quantization={self.quantization!r}: use '8bit', '4bit' or None (the dtype)"
            )
        if self.device_map not in (None, "auto", "balanced", "sequential"):
            raise ConfigurationError(
                f"device_map={self.device_map!r}: use 'auto', 'balanced', 'sequential' or None"
            )
        if self.device_map is not None and self.devices is not None:
            raise ConfigurationError(
                "device_map spreads one model over the GPUs, devices makes one replica per "
                "GPU: give one of them"
            )
        for name in ("max_tokens", "max_batch_tokens"):
            positive_or_none(name, getattr(self, name))
        for name in (
            "local_files_only",
            "truncate",
            "trust_remote_code",
            "show_progress",
            "compile",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False")
        for name in ("prefix_cache", "packing", "cuda_graphs"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True, False or None (per device)")


def checked_device(device: Any) -> str:
    """``device`` (a string or ``torch.device``) as a string torch accepts; torch is imported
    only here, so settings without a device never load it."""
    import torch

    try:
        return str(torch.device(device))
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(f"invalid device {device!r}: {exc}") from None


def _checked_devices(devices: Any, device: str | None) -> tuple[str, ...]:
    if isinstance(devices, str) or not devices:
        raise ConfigurationError(
            f"devices must be a non-empty list of devices, e.g. ['cuda:0', 'cuda:1'], got "
            f"{devices!r}"
        )
    names = tuple(checked_device(d) for d in devices)
    if len(set(names)) != len(names):
        raise ConfigurationError(f"devices lists a device twice: {list(names)}")
    if len({name.split(":")[0] for name in names}) > 1:
        raise ConfigurationError(f"devices must all be of one type (all CUDA or all CPU): {names}")
    if device is not None and device != names[0]:
        raise ConfigurationError(
            f"device={device!r} and devices={list(names)} disagree; give devices alone"
        )
    return names


def dtype_name(dtype: Any) -> str:
    """``float32``, ``bfloat16`` or ``float16`` for any accepted spelling or ``torch.dtype``."""
    name = str(dtype).lower().removeprefix("torch.")
    if name not in DTYPE_NAMES:
        raise ConfigurationError(f"unknown dtype {dtype!r}; use one of {sorted(DTYPE_NAMES)}")
    return DTYPE_NAMES[name]


def positive_or_none(name: str, value: Any) -> int | None:
    """``value`` when it is None or a positive int; else ``ConfigurationError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{name}={value!r} must be a positive integer (or None for the default); zero "
            "never means the default"
        )
    return value
