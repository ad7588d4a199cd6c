"""Several replicas (``devices=[...]``): every row back in order, the work split evenly, a
failing replica named. Run here with CPU replicas (``cpu:0``, ``cpu:1``...)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from harrier import ConfigurationError, Embedder, EmbedderSettings
from harrier._replicas import assign


def test_assign_gives_every_job_once_and_evens_the_load() -> None:
    costs = [500, 20, 300, 300, 40, 900, 10, 250, 250, 70, 600, 5]
    shares = assign(costs, 3)
    assert sorted(j for share in shares for j in share) == list(range(len(costs)))
    loads = [sum(costs[j] for j in share) for share in shares]
    assert max(loads) - min(loads) <= max(costs)
    assert shares == assign(costs, 3)  # deterministic
    assert assign([7], 3) == [[0], [], []]


def _texts() -> list[str]:
    return [("word " * (i % 17 + 1)).strip() + f" {i}" for i in range(60)]


def test_replicas_return_every_row_in_order(qwen_path, monkeypatch) -> None:
    from harrier import _embedder

    several = Embedder.from_pretrained(
        qwen_path, devices=["cpu:0", "cpu:1", "cpu:2"], max_batch_tokens=64
    )
    single = Embedder.from_pretrained(qwen_path, device="cpu", max_batch_tokens=64)
    assert len({id(r) for r in several._replicas}) == 3
    seen: list[tuple[str, int]] = []
    original = _embedder._forward.run_batch

    def recording(rows, run, device):  # type: ignore[no-untyped-def]
        seen.append((str(device), sum(len(r) for r in rows)))
        return original(rows, run, device)

    monkeypatch.setattr(_embedder._forward, "run_batch", recording)
    texts = _texts()
    np.testing.assert_allclose(
        several.embed_documents(texts), single.embed_documents(texts), atol=1e-6
    )
    np.testing.assert_allclose(several.embed_queries(texts), single.embed_queries(texts), atol=1e-6)
    mine = [s for s in seen if s[0].startswith("cpu:")]
    loads = {d: sum(t for device, t in mine if device == d) for d in ("cpu:0", "cpu:1", "cpu:2")}
    assert all(loads.values()), loads  # every replica worked
    assert max(loads.values()) - min(loads.values()) <= 2 * max(t for _, t in mine), loads


def test_a_failing_replica_is_named(tmp_path) -> None:
    from harrier.testing import build_model

    folder = build_model(tmp_path / "model", "tiny-qwen3")  # own replicas: others stay whole
    engine = Embedder.from_pretrained(folder, devices=["cpu:0", "cpu:1"], max_batch_tokens=32)

    def broken(**inputs):  # type: ignore[no-untyped-def]
        raise RuntimeError("device lost")

    engine._replicas[1].model.forward = broken
    with pytest.raises(RuntimeError, match="device lost") as caught:
        engine.embed_documents(_texts())
    if sys.version_info >= (3, 11):
        assert "raised by the model replica on cpu:1" in caught.value.__notes__


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"devices": "cuda:0"}, "non-empty list"),
        ({"devices": []}, "non-empty list"),
        ({"devices": ["cpu:0", "cpu:0"]}, "twice"),
        ({"devices": ["cpu", "cuda:0"]}, "one type"),
        ({"devices": ["cpu:0", "cpu:1"], "device": "cpu:1"}, "disagree"),
        ({"devices": ["nonsense"]}, "invalid device"),
    ],
)
def test_devices_are_checked(fields, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        EmbedderSettings(**fields)


def test_devices_are_a_tuple_and_pickle(qwen_path) -> None:
    settings = EmbedderSettings(str(qwen_path), devices=["cpu:0", "cpu:1"])  # type: ignore[arg-type]
    assert settings.devices == ("cpu:0", "cpu:1")
    assert hash(settings)


@pytest.mark.slow  # a whole ingest run in a subprocess
def test_cli_ingests_with_several_devices(tmp_path, qwen_path) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "examples" / "corpus"
    command = ["ingest", str(corpus), "--collection", "demo", "--model", str(qwen_path)]
    done = subprocess.run(
        [sys.executable, "-m", "harrier.cli", *command, "--devices", "cpu:0,cpu:1", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["spans_written"] > 0
