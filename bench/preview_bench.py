"""Benchmark `digest preview` on the offline example from a cold start.

Each run is a new `python -m digest preview` process with an empty state database, so it pays
for everything: start-up and imports, reading the five feeds and the weeknote, parsing, building
the issue, rendering it and writing the four files. It prints each run and the median wall time
against the 2 s target.

Run from the repository root: `.venv/bin/python bench/preview_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "examples/demo/feeds.yaml"
TARGET = 2.0  # seconds


def cold_run(workdir: Path, n: int) -> float:
    command = [sys.executable, "-m", "digest", "preview", "--config", str(DEMO)]
    command += ["--db", str(workdir / f"state-{n}.db"), "--out", str(workdir / f"out-{n}")]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"!!! FAIL: digest preview exited {run.returncode}:\n{run.stdout}{run.stderr}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold runs (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-preview-bench-") as tmp:
        walls = []
        for n in range(max(1, args.repeat)):
            walls.append(cold_run(Path(tmp), n))
            print(f"  run {n + 1}: {walls[-1]:.2f} s")
    wall = median(walls)
    verdict = "met" if wall < TARGET else "MISSED"
    print(f"\n{platform.machine()}, Python {platform.python_version()}")
    print(f"cold digest preview, median of {len(walls)}: {wall:.2f} s (target < 2 s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
