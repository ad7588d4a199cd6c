"""Run the Python blocks of one README section as one program, on a local model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_MODEL = "microsoft/harrier-oss-v1-270m"


def section_code(title: str) -> str:
    """The ``python`` blocks of the README section ``## {title}``, joined."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```python\n(.+?)\n```", section, re.S))


def run_section(title: str, model: Path, cwd: Path) -> list[str]:
    """The printed lines of the section's code, run in ``cwd`` with ``model`` for the README's."""
    code = section_code(title)
    assert README_MODEL in code
    result = subprocess.run(
        [sys.executable, "-c", code.replace(README_MODEL, str(model))],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()
