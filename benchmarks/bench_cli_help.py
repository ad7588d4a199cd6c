"""How fast ``harrier --help`` and ``harrier search --help`` answer (median of 10 runs), next
to a bare ``python -c pass`` measured in the same run. The target is under 1 s: help must not
import torch or a store."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import table


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    rows: list[dict[str, object]] = [
        {"command": "python -c pass", "median s": baseline, "ratio": 1.0, "under 1 s": "-"}
    ]
    for extra in ([], ["search"], ["ingest"]):
        seconds = median_seconds([sys.executable, "-m", "harrier.cli", *extra, "--help"], args.runs)
        rows.append(
            {
                "command": " ".join(["harrier", *extra, "--help"]),
                "median s": seconds,
                "ratio": seconds / baseline,
                "under 1 s": seconds < 1.0,
            }
        )
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
