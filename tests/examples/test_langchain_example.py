"""examples/langchain_rag.py runs end to end on a tiny model, and its ranking is the engine's."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import harrier

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "langchain_rag.py"
LINE = re.compile(r"^(\d+)\. (-?\d\.\d{4}) (\S+)@(\d+) (.*)$")


def _example_texts() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("langchain_rag_example", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TEXTS)


def test_langchain_example_runs_and_ranks_like_the_engine(qwen_path):
    query = "capital of Germany"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model",
            str(qwen_path),
            "--device",
            "cpu",
            "--query",
            query,
            "-k",
            "3",
            "--max-tokens",
            "24",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"split 4 texts into \d+ chunks", lines[0])
    found = [LINE.match(line) for line in lines[2:]]
    assert len(found) == 3 and all(found)

    texts = _example_texts()
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    query_vector = engine.embed_queries([query])[0]
    previous = 2.0
    for match in found:
        assert match is not None
        source, start = match.group(3), int(match.group(4))
        chunk = ast.literal_eval(match.group(5))
        assert texts[source][start:].startswith(chunk)  # exact start offset
        score = float(engine.embed_documents([chunk])[0] @ query_vector)
        assert abs(score - float(match.group(2))) < 1e-3
        assert score <= previous + 1e-6
        previous = score
    # The printed chunks are the best: no other chunk of the texts scores higher.
    spans = [
        s.text for text in texts.values() for s in harrier.split_spans(text, engine, max_tokens=24)
    ]
    all_scores = np.sort(engine.embed_documents(spans) @ query_vector)[::-1]
    assert abs(all_scores[2] - float(found[2].group(2))) < 1e-3
