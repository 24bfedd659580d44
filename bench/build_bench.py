"""Benchmark building an issue from 200 feeds x 50 items plus a weeknote, everything cached.

The feeds are fetch_bench.py's (same seeded bytes), written as local files; the weeknote is the
offline example's page. One cold `fetch_sources` fills a fresh state database, then each of
`--repeat` rounds times, in process and with the clock passed in:

- refresh: `fetch_sources` again, where every source is unchanged (each file is read and hashed;
  nothing is parsed), as in `digest build` when every server answers 304;
- build: `build_issue` (window query, weeknote extraction, theme matching, curation);
- save: writing the issue JSON.

Then again with 1,500 labelled examples stored (50 weeknotes of 30 links, written like the
feeds' items, each under the theme its topic's keyword names), so that every build also trains
the theme classifier and items are themed by it, as in a state that has learnt from a year of
weeknotes. It prints each round and then the medians, with CPU time beside wall time.

Run from the repository root: `.venv/bin/python bench/build_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
from fetch_bench import (
    ACTIONS,
    FEEDS,
    FINDINGS,
    ITEMS,
    PUBLISHED,
    SUBJECTS,
    THEMES,
    TOPICS,
    write_config,
    write_feeds,
)

from digest.core.config import load_config
from digest.core.store import Store
from digest.curation.classify import Example
from digest.curation.examples import save_examples
from digest.pipeline import build_issue, fetch_sources, save_issue

ROOT = Path(__file__).parent.parent
NOW = PUBLISHED + timedelta(hours=1)  # every item is inside the 7-day window
TARGET = 1.0  # seconds of processing for a whole cached build


def setup(workdir: Path) -> Path:
    feeds = write_feeds(workdir)
    path = write_config(workdir, feeds, {feed.path: feed.path.lstrip("/") for feed in feeds})
    shutil.copy(ROOT / "examples/demo/weeknote.html", workdir / "weeknote.html")
    with path.open("a", encoding="utf-8") as config:
        config.write("\nweeknote:\n  url: weeknote.html\n  selector: article\n")
    return path


def examples(weeknotes: int = 50, links: int = 30) -> list[tuple[str, Example]]:
    """(URL, example) for `weeknotes` weeknotes of `links` links; a link whose topic no theme's
    keyword names goes under a theme chosen at random, as editors file such links anyway."""
    rng = random.Random(12)
    names = list(THEMES)
    found = []
    for week in range(weeknotes):
        for link in range(links):
            topic = rng.choice(TOPICS)
            named = [n for n, words in THEMES.items() if any(w.lower() in topic for w in words)]
            text = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {topic}: {rng.choice(FINDINGS)}"
            url = f"https://site-{link}.example/{week}/{link}"
            theme = (named or [rng.choice(names)])[0]
            found.append((url, Example(theme, text, url=url, issue=f"W{week:02d}")))
    return found


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def round_(config, store, out: Path) -> dict[str, tuple[float, float]]:
    reports, refresh_wall, refresh_cpu = timed(fetch_sources, config, store, NOW)
    assert all(r.status == "unchanged" for r in reports), "a source was not cached"
    issue, build_wall, build_cpu = timed(build_issue, config, store, NOW)
    _, save_wall, save_cpu = timed(save_issue, issue, out)
    counts = issue.counts()
    print(
        f"  refresh {refresh_wall * 1000:6.0f} ms   build {build_wall * 1000:6.0f} ms   "
        f"save {save_wall * 1000:5.0f} ms   ({counts['shown']} shown, {counts['more']} over "
        f"the cap, {counts['duplicate']} duplicates)"
    )
    return {
        "refresh": (refresh_wall, refresh_cpu),
        "build": (build_wall, build_cpu),
        "save": (save_wall, save_cpu),
        "total": (refresh_wall + build_wall + save_wall, refresh_cpu + build_cpu + save_cpu),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-build-bench-") as tmp:
        workdir = Path(tmp)
        config = load_config(setup(workdir))
        with Store.open(config.db_path()) as store:
            cold = fetch_sources(config, store, NOW)
            items = sum(report.items for report in cold)
            print(f"{FEEDS} feeds x {ITEMS} items ({items} stored) + a weeknote, in {workdir}")
            states = {}
            for state in ("no examples", "1,500 examples"):
                if state != "no examples":
                    save_examples(store, examples(), "weeknote", NOW)
                print(f"with {state}:")
                rounds = range(max(1, args.repeat))
                states[state] = [round_(config, store, workdir / "out") for _ in rounds]
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    for state, rounds in states.items():
        print(f"\nwith {state}, medians of {len(rounds)} on {machine}")
        for step in ("refresh", "build", "save", "total"):
            wall = median(r[step][0] for r in rounds)
            cpu = median(r[step][1] for r in rounds)
            print(f"  {step:8} wall {wall * 1000:6.0f} ms   cpu {cpu * 1000:6.0f} ms")
        total = median(r["total"][0] for r in rounds)
        verdict = "met" if total < TARGET else "MISSED"
        print(f"cached build, wall: {total:.2f} s (target < {TARGET:.0f} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
