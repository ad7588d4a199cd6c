"""``harrier ingest`` as a log sees it (stderr not a terminal): a plan, progress lines with an
estimate at least every interval, and Ctrl-C / SIGTERM that stop the run at once and resume
to exactly what one clean run writes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from harrier.stores.registry import open_store

WORDS = (
    "the of and to in is that for it as with was on be by this are from at or an which "
    "retrieval embedding vector search query document passage model token span index store"
).split()
STOP_LIMIT = 2.0  # seconds from the signal to the exit, as promised


def write_corpus(folder: Path, documents: int, words: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder.mkdir()
    for i in range(documents):
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        (folder / f"doc-{i:04d}.txt").write_text(text, encoding="utf-8")
    return folder


class Run:
    """``harrier ingest`` in a child process, its stderr lines timed as they arrive."""

    def __init__(self, corpus: Path, store: Path, model: Path, *extra: str) -> None:
        self.lines: list[tuple[float, str]] = []
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harrier.cli",
                "ingest",
                str(corpus),
                "--collection",
                "c",
                "--store",
                f"qdrant:{store}",
                "--model",
                str(model),
                "--max-tokens",
                "32",
                "--group-documents",
                "4",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.plan = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
            if "harrier: plan:" in line:
                self.plan.set()

    def wait(self, timeout: float = 600) -> int:
        code = self.process.wait(timeout)
        self._reader.join(10)
        self.ended = time.monotonic()
        return code

    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)


def stored(path: Path) -> dict[str, tuple]:
    store = open_store(f"qdrant:{path}", "c")
    try:
        return {
            r.id: (
                r.doc_id,
                r.span_index,
                r.span_count,
                r.doc_hash,
                r.text,
                r.start,
                r.end,
                r.vector,
            )
            for page in store.iter_records(512)
            for r in page
        }
    finally:
        store.close()


def assert_same_records(resumed: dict[str, tuple], clean: dict[str, tuple]) -> None:
    assert resumed.keys() == clean.keys()
    for span_id, record in clean.items():
        assert resumed[span_id][:-1] == record[:-1]
        np.testing.assert_allclose(resumed[span_id][-1], record[-1], atol=1e-5)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, qwen_path):
    """One uninterrupted run over a corpus of about 4 s of work: its corpus and records."""
    root = tmp_path_factory.mktemp("clean")
    corpus = write_corpus(root / "corpus", documents=48, words=300)
    # an interval far below the run's length (under a second on an idle machine), so lines come
    run = Run(corpus, root / "store", qwen_path, "--progress-interval", "0.02")
    assert run.wait() == 0, run.stderr()
    return corpus, stored(root / "store"), run


def test_progress_lines_a_log_can_read(clean_run):
    _, records, run = clean_run
    text = run.stderr()
    assert run.lines[0][1].startswith("harrier: loading model ")  # before the slow part
    first_time, first = run.lines[1]
    assert first.startswith("harrier: plan: 48 documents (")
    assert "on cpu (float32), spans up to 32 tokens" in first
    progress = [(t, line) for t, line in run.lines if line.startswith("harrier: ingest: ")]
    assert progress and progress[-1][1].startswith("harrier: ingest: done, 48/48 documents")
    progress.pop()
    assert progress, text
    assert all("elapsed" in line and "tokens/s" in line for _, line in progress)
    assert any("ETA" in line for _, line in progress), text
    with_eta = next(line for _, line in progress if "ETA" in line)
    assert "documents" in with_eta and "spans" in with_eta and "of" in with_eta  # bytes
    times = [first_time] + [t for t, _ in progress]
    gaps = np.diff(times)
    assert gaps.max() < 0.02 + 2.0, gaps  # the interval, with room for a loaded machine
    assert len(records) > 48


def test_quiet_silences_progress(tmp_path, qwen_path):
    corpus = write_corpus(tmp_path / "corpus", documents=2, words=40)
    run = Run(corpus, tmp_path / "store", qwen_path, "--quiet", "--progress-interval", "0.1")
    assert run.wait() == 0
    assert not any(line.startswith("harrier:") for _, line in run.lines), run.stderr()


def interrupt_and_resume(clean_run, tmp_path, qwen_path, sig, after: float) -> float:
    """Signal a run ``after`` seconds past its plan line, resume it; the seconds the stop took."""
    corpus, clean, _ = clean_run
    run = Run(corpus, tmp_path / "store", qwen_path)
    assert run.plan.wait(300), run.stderr()
    time.sleep(after)
    sent = time.monotonic()
    run.process.send_signal(sig)
    code = run.wait()
    took = run.ended - sent
    if code != 0:  # 0: it finished before the signal came
        assert code == 128 + sig, run.stderr()
        name = "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C"
        assert f"harrier: interrupted ({name}): " in run.stderr()
        assert "run the same command again to resume" in run.stderr()
        assert "Traceback" not in run.stderr()
    again = Run(corpus, tmp_path / "store", qwen_path)
    assert again.wait() == 0, again.stderr()
    assert_same_records(stored(tmp_path / "store"), clean)
    return took if code != 0 else 0.0


def test_ctrl_c_stops_at_once_and_the_same_command_resumes_exactly(clean_run, tmp_path, qwen_path):
    took = interrupt_and_resume(clean_run, tmp_path, qwen_path, signal.SIGINT, after=1.0)
    assert took < STOP_LIMIT


@pytest.mark.slow
def test_sigterm_stops_with_143_and_resumes(clean_run, tmp_path, qwen_path):
    took = interrupt_and_resume(clean_run, tmp_path, qwen_path, signal.SIGTERM, after=1.5)
    assert took < STOP_LIMIT


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.0, 0.3, 0.8, 2.0, 3.5])
def test_ctrl_c_at_many_points_resumes_exactly(clean_run, tmp_path, qwen_path, after):
    took = interrupt_and_resume(clean_run, tmp_path, qwen_path, signal.SIGINT, after=after)
    assert took < STOP_LIMIT


@pytest.mark.slow
def test_a_long_run_logs_an_estimate_at_least_every_interval(tmp_path, qwen_path):
    """Every ``--progress-interval`` (10 s by default; 0.5 s here, so that a run of a few
    seconds spans many intervals on any machine) a line with an estimate, or sooner."""
    interval = 0.5
    corpus = write_corpus(tmp_path / "corpus", documents=480, words=600)
    run = Run(corpus, tmp_path / "store", qwen_path, "--progress-interval", str(interval))
    assert run.wait() == 0, run.stderr()
    plan = next(t for t, line in run.lines if "harrier: plan:" in line)
    lines = [(t, line) for t, line in run.lines if line.startswith("harrier: ingest: ")]
    done_time, done = lines.pop()
    assert done.startswith("harrier: ingest: done, 480/480 documents")
    assert done_time - plan > 4 * interval, "the run must span several intervals"
    assert len(lines) >= 3 and all("ETA" in line for _, line in lines)
    assert np.diff([plan, *(t for t, _ in lines), done_time]).max() < interval + 2.0
