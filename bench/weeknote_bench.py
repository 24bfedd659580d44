"""Benchmark reading weeknote pages: the fifteen platform fixtures, and one long sentence of
5,000 links (each link's title and blurb come from the words around it, which must not mean
rescanning the sentence for every link).

Run from the repository root: `.venv/bin/python bench/weeknote_bench.py [--repeat N]`. It
prints each round and the medians, in process, wall and CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from statistics import median

from digest.weeknote.extract import extract_weeknote

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "weeknotes"
LINKS = 5000
TARGET = 2.0  # seconds for the 5,000-link sentence


def long_sentence(text: str) -> str:
    links = ", ".join(f'<a href="https://n.example/{n}">{text}</a>' for n in range(LINKS))
    return f"<article><h1>Links</h1><p>Everything we read: {links}.</p></article>"


def fixtures() -> list[tuple[bytes, str, str | None]]:
    pages = []
    for expected in sorted(FIXTURES.glob("*.expected.json")):
        meta = json.loads(expected.read_text(encoding="utf-8"))
        html = expected.with_name(expected.name.replace(".expected.json", ".html")).read_bytes()
        pages.append((html, meta["url"], meta["selector"]))
    return pages


def timed(function, *args) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def read_all(pages) -> None:
    for html, url, selector in pages:
        extract_weeknote(html, url, selector)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    pages = fixtures()
    cases = {
        f"{len(pages)} fixtures": (read_all, pages),
        f"{LINKS:,} titled links": (
            extract_weeknote,
            long_sentence("a report"),
            "https://w.example/",
        ),
        f"{LINKS:,} 'here' links": (extract_weeknote, long_sentence("here"), "https://w.example/"),
    }
    rounds = []
    for n in range(max(1, args.repeat)):
        row = {name: timed(*case) for name, case in cases.items()}
        print(f"  round {n + 1}: " + "   ".join(f"{k} {v[0]:.2f} s" for k, v in row.items()))
        rounds.append(row)
    print(f"\nmedians of {len(rounds)} on {platform.machine()}, Python {platform.python_version()}")
    for name in cases:
        wall = median(r[name][0] for r in rounds)
        cpu = median(r[name][1] for r in rounds)
        verdict = "met" if wall <= TARGET else "MISSED"
        target = "" if "fixtures" in name else f"   (target <= {TARGET:.0f} s: {verdict})"
        print(f"  {name:22} wall {wall:6.2f} s   cpu {cpu:6.2f} s{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
