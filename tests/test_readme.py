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


BLOCK = re.compile(
    r"(?:<!-- readme: (?P<mark>[^\n]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S
)
HUB_ID = "microsoft/harrier-oss-v1-270m"


def readme_blocks() -> list[tuple[str, str, str | None]]:
    """``(language, code, skip mark)`` of every fenced block, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(m["lang"], m["body"], m["mark"]) for m in BLOCK.finditer(readme)]


def test_every_block_is_python_or_bash_and_every_skip_says_why():
    blocks = readme_blocks()
    assert {lang for lang, _, _ in blocks} <= {"python", "bash"}
    marks = [mark for _, _, mark in blocks if mark is not None]
    assert all(re.fullmatch(r"skip \(.{10,}\)", mark) for mark in marks), marks
    assert len(marks) <= 5  # the Hub, a GPU, a Qdrant server, the suite itself


def _commands(body: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = body.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def _run_command(argv: list[str], url: str, model: Path) -> None:
    from harrier.cli import main

    if argv[0] == "curl":
        argv = [a.replace("localhost:8080", url.removeprefix("http://")) for a in argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and '"error"' not in result.stdout, result.stdout
        return
    assert argv[0] == "harrier", argv
    if argv[1] in {"ingest", "search"} and "--model" not in argv:
        argv = [*argv, "--model", str(model)]
    assert main(argv[1:]) == 0, argv


def _close_stores(namespace: dict[str, object]) -> None:
    """Close what a block left open on an embedded store (one process at a time holds it)."""
    import harrier
    from langchain_harrier import HarrierVectorStore as LangChainStore
    from llama_index.vector_stores.harrier import HarrierVectorStore as LlamaIndexStore

    kinds = (harrier.Index, harrier.VectorStore, LangChainStore, LlamaIndexStore)
    for value in namespace.values():
        if isinstance(value, kinds):
            value.close()


def test_every_readme_block_runs(tmp_path, qwen_path, monkeypatch, capsys):
    """Each block as written, in order, in one namespace (a reader's session), in a folder
    holding the files the blocks name (``docs/``, ``corpus.jsonl``, ``examples/``). Only the
    Hub id, the random 270m shape and the server's address are replaced: by the tiny test
    model, a tiny shape and a ``harrier serve`` app running in this process."""
    from tests.document_files import write_pdf

    import harrier
    from harrier.testing import serve_in_thread

    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "docs/reports").mkdir(parents=True)
    write_pdf(tmp_path / "docs/reports/rivers.pdf")
    (tmp_path / "docs/help.md").write_text("# Passwords\n\nReset it under Settings.\n")
    (tmp_path / "corpus.jsonl").write_text(
        '{"id": "a", "text": "error E1234 in billing", "metadata": {"lang": "en"}}\n'
    )
    engine = harrier.Embedder.from_pretrained(qwen_path, device="cpu")
    namespace: dict[str, object] = {}
    ran = 0
    with serve_in_thread(engine) as url:
        for lang, body, mark in readme_blocks():
            if mark is not None:
                continue
            code = (
                body.replace(HUB_ID, str(qwen_path))
                .replace('"harrier-270m", layers=2', '"tiny-qwen3", layers=2')
                .replace("http://127.0.0.1:8080", url)
            )
            if lang == "python":
                exec(compile(code, "README.md", "exec"), namespace)
                _close_stores(namespace)  # as a reader's session ends before the next command
            else:
                for argv in _commands(code):
                    _run_command(argv, url, qwen_path)
            ran += 1
    capsys.readouterr()
    assert ran == len([b for b in readme_blocks() if b[2] is None])
