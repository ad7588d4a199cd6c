"""`harrier serve` as a subprocess: loopback by default, port 0, SIGTERM drains in-flight work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

import harrier


def _start(
    args: list[str],
    env: dict[str, str] | None = None,
    device: tuple[str, ...] = ("--device", "cpu"),
) -> tuple[subprocess.Popen, str]:
    core = str(Path(harrier.__file__).parents[1])
    environment = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([core, os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "harrier.cli", "serve", "--port", "0", *device, *args],
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return process, found.group(1)
    raise AssertionError(f"the server exited with {process.wait()} before listening")


def _wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server never became ready")


def test_sigterm_drains_in_flight_requests_then_exits(qwen_path: Path) -> None:
    process, url = _start(
        ["--model", str(qwen_path), "--api-key-env", "HARRIER_TEST_KEY"],
        env={"HARRIER_TEST_KEY": "k"},
    )
    try:
        assert url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
        _wait_ready(url, process)
        texts = [f"text number {i} " + "filler words " * 5 for i in range(300)]
        headers = {"Authorization": "Bearer k"}
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post,
                f"{url}/v1/embeddings",
                json={"input": texts},
                headers=headers,
                timeout=120,
            )
            while _in_flight_with_key(url) < 2 and not pending.done():
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            answer = pending.result(120)
        assert answer.status_code == 200 and len(answer.json()["data"]) == 300
        # uvicorn re-raises the captured SIGTERM once drained: the usual "stopped" status.
        assert process.wait(60) in (0, -signal.SIGTERM)
        log = process.stderr.read() if process.stderr else ""
        assert "filler words" not in log and "Bearer" not in log  # no bodies, no key
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _in_flight_with_key(url: str) -> float:
    found = re.search(
        r"^harrier_requests_in_flight (\S+)$",
        httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer k"}).text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def test_devices_serve_one_replica_each(qwen_path: Path) -> None:
    """``--devices``: one replica per device behind one server, the vectors the local engine
    gives, the devices named when ready."""
    process, url = _start(
        ["--model", str(qwen_path), "--max-batch-tokens", "64"], device=("--devices", "cpu:0,cpu:1")
    )
    try:
        _wait_ready(url, process)
        texts = [f"replica text {i} " + "word " * (i % 7) for i in range(24)]
        answer = httpx.post(f"{url}/v1/embeddings", json={"input": texts}, timeout=120)
        assert answer.status_code == 200
        served = np.array([row["embedding"] for row in answer.json()["data"]])
        local = harrier.Embedder.from_pretrained(qwen_path, device="cpu", dtype="float32")
        np.testing.assert_allclose(served, local.embed_documents(texts), atol=1e-5)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log = process.stderr.read() if process.stderr else ""
        assert "ready as" in log and "(cpu:0, cpu:1, float32)" in log, log
        assert "Loading weights" not in log  # no progress bar in a log: the ready line says it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_model_that_cannot_load_ends_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harrier.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--model", str(tmp_path / "missing"), "--port", "0"])
    assert exited.value.code == 1
    assert "could not be loaded" in capsys.readouterr().err


def test_compile_off_cuda_ends_the_server_with_the_reason(
    qwen_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harrier.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--model", str(qwen_path), "--device", "cpu", "--compile", "--port", "0"])
    assert exited.value.code == 1
    assert "compile=True" in capsys.readouterr().err


def test_a_bad_setting_is_refused_before_the_server_listens(
    qwen_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harrier.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--model", str(qwen_path), "--devices", "cpu,cpu", "--port", "0"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "devices lists a device twice" in err and "listening" not in err


def test_missing_api_key_variable_is_refused() -> None:
    from harrier.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--api-key-env", "HARRIER_TEST_UNSET_VARIABLE_FOR_SURE", "--port", "0"])
    assert exited.value.code == 1
