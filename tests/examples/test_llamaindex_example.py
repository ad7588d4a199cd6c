"""examples/llamaindex_pipeline.py runs end to end on a tiny model."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import harrier

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llamaindex_pipeline.py"
PACKAGE_ROOTS = [
    "core",
    "integrations/langchain",
    "integrations/llamaindex",
    "integrations/qdrant",
    "integrations/milvus",
]
HIT = re.compile(r"^\d\. score=[-0-9.]+ (\S+)\[(\d+):(\d+)\]", re.M)


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llamaindex_pipeline_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_runs_in_a_fresh_interpreter(qwen_path: Path, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Paris is the capital of France.\n\n" * 20, encoding="utf-8")
    paths = [str(ROOT / p) for p in PACKAGE_ROOTS]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--model",
            str(qwen_path),
            "--device",
            "cpu",
            "--chunk-tokens",
            "32",
            "--top-k",
            "2",
            "--query",
            "capital of France",
            str(notes),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"ingested \d+ nodes from 1 documents \(dimension 64\)", result.stdout)
    hits = HIT.findall(result.stdout)
    assert len(hits) == 2
    text = notes.read_text(encoding="utf-8")
    assert all(ref == str(notes) and 0 <= int(a) < int(b) <= len(text) for ref, a, b in hits)


def test_defaults_are_the_real_model_and_builtin_samples(example, qwen_path: Path, capsys):
    args = example.parse_args([])
    assert args.model == harrier.DEFAULT_MODEL == "microsoft/harrier-oss-v1-270m"
    assert args.files == []
    example.main(["--model", str(qwen_path), "--top-k", "4"])
    out = capsys.readouterr().out
    assert f"from {len(example.SAMPLES)} documents" in out
    hits = HIT.findall(out)
    assert len(hits) == 4
    for ref, start, end in hits:
        assert 0 <= int(start) < int(end) <= len(example.SAMPLES[ref])
