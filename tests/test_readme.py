"""The README's quick start stays true: its commands are the ones CI and users run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    main_job, tests = quick_start_commands()
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = tests.split(" && ")[-1]
    assert test_command == ".venv/bin/python -m pytest"
    ci_lines = [line for line in ci_script.splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test_command
    assert "torch==2.13.0" in tests and "'.[all,test]'" in tests
    assert "harrier ingest examples/corpus" in main_job


def test_quick_start_main_job_runs_with_a_local_model(tmp_path, qwen_path):
    """The README's harrier commands, as written, plus --model (no Hub access here)."""
    main_job, _ = quick_start_commands()
    steps = [shlex.split(step) for step in main_job.split(" && ")]
    harrier_steps = [s for s in steps if s[0].endswith("bin/harrier")]
    assert [s[1] for s in harrier_steps] == ["ingest", "search"]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for step in harrier_steps:
        result = subprocess.run(
            [sys.executable, "-m", "harrier.cli", *step[1:], "--model", str(qwen_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^\d+\. \[", result.stdout, re.M)) == 5  # default -k 5
