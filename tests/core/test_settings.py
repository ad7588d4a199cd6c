"""``EmbedderSettings``: one checked, picklable value for every engine setting."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

import harrier
from harrier import EmbedderSettings


@pytest.mark.parametrize("field", ["max_tokens", "max_batch_tokens"])
@pytest.mark.parametrize("value", [0, -1, 2.5, "8", True])
def test_zero_negative_and_non_integers_are_configuration_errors(field, value):
    with pytest.raises(harrier.ConfigurationError, match=field):
        EmbedderSettings(**{field: value})


def test_zero_is_never_the_default_in_the_engine(qwen_path):
    with pytest.raises(harrier.ConfigurationError, match="zero never means the default"):
        harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=0)
    with pytest.raises(harrier.ConfigurationError, match="max_tokens"):
        harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_tokens=0)


def test_bad_values_fail_where_they_are_written():
    with pytest.raises(harrier.ConfigurationError, match="dtype"):
        EmbedderSettings(dtype="float8")
    with pytest.raises(harrier.ConfigurationError, match="device"):
        EmbedderSettings(device="gpu-please")
    with pytest.raises(harrier.ConfigurationError, match="truncate"):
        EmbedderSettings(truncate="yes")  # type: ignore[arg-type]
    with pytest.raises(harrier.ConfigurationError, match="compile"):
        EmbedderSettings(compile=None)  # type: ignore[arg-type]
    with pytest.raises(harrier.ConfigurationError, match="model"):
        EmbedderSettings(model="")
    with pytest.raises(TypeError):
        EmbedderSettings(max_tokenz=5)  # type: ignore[call-arg]


def test_values_are_normalised_frozen_and_picklable(qwen_path):
    settings = EmbedderSettings(qwen_path, dtype=torch.bfloat16, device=torch.device("cpu"))
    assert settings.model == str(qwen_path) and settings.dtype == "bfloat16"
    assert settings.device == "cpu"
    assert EmbedderSettings(dtype="BF16") == EmbedderSettings(dtype="bfloat16")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_tokens = 5  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert hash(settings) == hash(pickle.loads(pickle.dumps(settings)))


def test_from_settings_builds_what_from_pretrained_builds(qwen_path, mixed_texts):
    options = {
        "device": "cpu",
        "max_tokens": 64,
        "truncate": True,
        "max_batch_tokens": 300,
        "prefix_cache": False,
    }
    settings = EmbedderSettings(qwen_path, **options)
    engine = harrier.Embedder.from_settings(settings)
    same = harrier.Embedder.from_pretrained(qwen_path, **options)
    assert engine.settings == same.settings == settings
    assert (engine.max_tokens, engine.max_batch_tokens, engine.truncate) == (64, 300, True)
    assert engine.prefix_cache is False and engine._loaded is same._loaded
    np.testing.assert_array_equal(
        engine.embed_documents(mixed_texts), same.embed_documents(mixed_texts)
    )
    rebuilt = harrier.Embedder.from_settings(pickle.loads(pickle.dumps(engine.settings)))
    assert rebuilt.settings == settings


def test_max_tokens_over_the_model_limit_is_refused(qwen_path):
    with pytest.raises(harrier.ConfigurationError, match="model's limit"):
        harrier.Embedder.from_pretrained(qwen_path, device="cpu", max_tokens=10**9)


def test_prefix_cache_defaults_per_device(qwen_path):
    """None: on for CPU, off for CUDA (measured slower there); an explicit value wins."""
    cpu = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    assert cpu.settings.prefix_cache is None and cpu.prefix_cache is True
    on_cuda = dataclasses.replace(cpu._loaded, device=torch.device("cuda"))  # not moved: a label
    assert harrier.Embedder(on_cuda, EmbedderSettings(qwen_path)).prefix_cache is False
    forced = harrier.Embedder(on_cuda, EmbedderSettings(qwen_path, prefix_cache=True))
    assert forced.prefix_cache is True
    off = harrier.Embedder.from_pretrained(qwen_path, device="cpu", prefix_cache=False)
    assert off.prefix_cache is False


def test_mean_pooled_models_never_use_the_prefix_cache(model_dir):
    mean = harrier.Embedder.from_pretrained(
        model_dir["tiny-qwen3-mean"], device="cpu", prefix_cache=True
    )
    assert mean.prefix_cache is False
