"""examples/langchain_vectorstore.py and examples/llamaindex_vectorstore.py run end to end on
a tiny model, and what they print agrees with harrier's own search."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each embeds a corpus in a new process; the README's run by default

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script: str, model: Path, tmp_path: Path, *extra: str) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--model",
            str(model),
            "--device",
            "cpu",
            "--store",
            f"qdrant:{tmp_path / 'store'}",
            "--max-tokens",
            "48",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_langchain_example_agrees_with_index_search(qwen_path, tmp_path):
    lines = _run("langchain_vectorstore.py", qwen_path, tmp_path)
    files, spans = map(int, re.fullmatch(r"stored (\d+) files as (\d+) spans", lines[0]).groups())
    assert spans > files > 0
    ranked = [line.split()[2] for line in lines[2:5]]
    assert lines[5] == "harrier.Index.search: " + " ".join(ranked)
    first, again, pruned = (ast.literal_eval(line.split(": ", 1)[1]) for line in lines[6:9])
    assert (first["num_added"], again["num_skipped"]) == (3, 3)
    assert (again["num_added"], pruned["num_deleted"]) == (0, 2)


def test_llamaindex_example_upserts_and_filters(qwen_path, tmp_path):
    lines = _run("llamaindex_vectorstore.py", qwen_path, tmp_path)
    written = [int(re.search(r"(\d+) nodes written", line).group(1)) for line in lines[:3]]
    assert written[0] > 0 and written[1] == 0 and written[2] > 0
    hits = lines[4:]
    assert len(hits) == 3 and all(line.endswith(" en") for line in hits)
