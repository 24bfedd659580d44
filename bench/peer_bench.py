"""Benchmark digest side by side with rss2email, its closest peer, on the same local feeds.

The feeds are fetch_bench.py's (100 by default, 50 items and about 62 KB each, seeded), served
by its 20 loopback servers, which wait 100 ms before every answer and answer a matching
If-None-Match with 304. rss2email is installed by this script into a throwaway virtual
environment (pip, from PyPI), never into digest's: digest neither depends on it nor imports it.

Each round runs, each as a process of its own, in a fresh folder:

- digest cold: `digest send` on an empty state database with one subscriber and the outbox
  transport: every feed downloaded and parsed, the issue built and rendered, one email written;
- digest warm: `digest fetch` on the same database: every feed asked again, every one a 304;
- rss2email cold: `r2e run` on a new data file: every feed downloaded and parsed, its new
  entries mailed into a Maildir (rss2email's `digest = True`: one message per feed, its fastest
  way and the nearest to one email; `--r2e-per-entry` mails one message per entry instead);
- rss2email warm: `r2e run` again: every feed asked again, every one a 304.

The two tools run one after the other in each round, in turns, so both see the same machine.
It prints every run (wall and CPU time, what the servers answered), then the medians and the
ratios of the medians, rss2email's time over digest's, against the targets (warm >= 20x, cold
>= 8x). It also prints the parse floor: the CPU feedparser takes (through digest's parser) for
all the bodies, over digest's two parse workers; a cold run cannot be faster than that.

Run from the repository root: `.venv/bin/python bench/peer_bench.py [--feeds N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
from fetch_bench import (
    ITEMS,
    LATENCY,
    PUBLISHED,
    Counters,
    Feed,
    make_feed,
    start_servers,
    write_config,
)

from digest.sources.feeds import parse_feed_safely
from digest.sources.workers import MAX_WORKERS

RSS2EMAIL = "rss2email==3.14"  # pinned: the figures compare with one known version
READER = "reader@bench.example"
RUN_TIMEOUT = 300.0  # seconds before a run is killed: rss2email fetches one feed at a time
TARGETS = {"warm": 20.0, "cold": 8.0}  # rss2email's time over digest's, at least


@dataclass(frozen=True)
class Run:
    """One finished process and what the servers answered while it ran."""

    wall: float
    cpu: float  # user + sys of the process and its children
    served: Counter


class BenchError(Exception):
    """The benchmark cannot go on: a run failed, hung or did not do what it should."""


def run(argv: list[str], cwd: Path, counters: Counters) -> Run:
    """Run `argv` in `cwd`, its output in files there, killed after RUN_TIMEOUT seconds."""
    counters.take()
    env = {k: v for k, v in os.environ.items() if k not in ("DIGEST_DB", "DIGEST_CONFIG")}
    env["no_proxy"] = "*"  # the loopback servers, never through a proxy
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, str(cwd / "stdout.txt"), flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(cwd / "stderr.txt"), flags, 0o644),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    killer = threading.Timer(RUN_TIMEOUT, _kill, (pid,))
    killer.start()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    killer.cancel()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = (cwd / "stderr.txt").read_text(errors="replace").strip()[-600:]
        raise BenchError(f"{' '.join(argv[-3:])}: exit {code}\n{tail}")
    return Run(wall, usage.ru_utime + usage.ru_stime, counters.take())


def quietly(argv: list[str]) -> None:
    """Run a step of the set-up; its output is shown only when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr[-600:]}")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def expect(run: Run, what: str, feeds: int, status: int) -> None:
    """Every feed asked once and answered `status`, or the run does not count."""
    if run.served["requests"] != feeds or run.served[status] != feeds:
        answered = {k: v for k, v in run.served.items() if isinstance(k, int)}
        raise BenchError(f"{what}: expected {feeds} answers {status}, the servers gave {answered}")


# ---- digest ----


def digest_site(folder: Path, feeds: list[Feed], urls: dict[str, str]) -> Path:
    """A feeds.yaml for the feeds, sending to the outbox, its window wide enough for the
    feeds' fixed dates; one subscriber. The link check and the weeknote are off: rss2email has
    neither, and the links are made up."""
    path = write_config(folder, feeds, urls)
    days = (datetime.now(UTC) - PUBLISHED).days + 30
    text = path.read_text(encoding="utf-8").replace("window_days: 7", f"window_days: {days}")
    path.write_text(
        text + "email:\n  unsubscribe_url: https://bench.example/unsubscribe\n"
        "sending:\n  transport: outbox\n  require_weeknote: false\n"
        "links:\n  before_send: false\n",
        encoding="utf-8",
    )
    quietly([sys.executable, "-m", "digest", "subscribers", "add", READER, "-c", str(path)])
    return path


def digest_pair(folder: Path, feeds, urls, counters: Counters) -> tuple[Run, Run]:
    config = digest_site(folder, feeds, urls)
    digest = [sys.executable, "-m", "digest"]
    cold = run([*digest, "send", "-c", str(config)], folder, counters)
    expect(cold, "digest cold", len(feeds), 200)
    if len(list((folder / "outbox").glob("*.eml"))) != 1:
        raise BenchError("digest cold: expected one email in the outbox")
    warm = run([*digest, "fetch", "-c", str(config)], folder, counters)
    expect(warm, "digest warm", len(feeds), 304)
    return cold, warm


# ---- rss2email ----


def install_rss2email(folder: Path) -> Path:
    """A virtual environment with rss2email in it; the path of its `r2e`."""
    venv = folder / "rss2email-venv"
    quietly([sys.executable, "-m", "venv", str(venv)])
    quietly([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", RSS2EMAIL])
    return venv / "bin" / "r2e"


def r2e_site(folder: Path, r2e: Path, feeds, urls, per_entry: bool) -> list[str]:
    """rss2email's config and data file for the feeds, mailing into a Maildir; the arguments
    that point `r2e` at them."""
    folder.mkdir(parents=True)
    where = ["-c", str(folder / "rss2email.cfg"), "-d", str(folder / "rss2email.json")]
    quietly([str(r2e), *where, "new", READER])
    path = folder / "rss2email.cfg"
    config = configparser.ConfigParser(interpolation=None)
    config.read(path, encoding="utf-8")
    config["DEFAULT"].update(
        {
            "email-protocol": "maildir",
            "maildir-path": str(folder),
            "maildir-mailbox": "mail",
            "digest": str(not per_entry),
            "from": "rss2email@bench.example",
        }
    )
    for feed in feeds:
        config[f"feed.{Path(feed.path).stem}"] = {"url": urls[feed.path]}
    with path.open("w", encoding="utf-8") as out:
        config.write(out)
    return where


def r2e_pair(folder: Path, r2e: Path, feeds, urls, counters, per_entry: bool) -> tuple[Run, Run]:
    where = r2e_site(folder, r2e, feeds, urls, per_entry)
    cold = run([str(r2e), *where, "run"], folder, counters)
    expect(cold, "rss2email cold", len(feeds), 200)
    mailed = sum(1 for _ in (folder / "mail" / "new").iterdir())
    expected = len(feeds) * ITEMS if per_entry else len(feeds)
    if mailed != expected:
        raise BenchError(f"rss2email cold: expected {expected} messages, found {mailed}")
    warm = run([str(r2e), *where, "run"], folder, counters)
    expect(warm, "rss2email warm", len(feeds), 304)
    return cold, warm


# ---- report ----


def parse_floor(feeds: list[Feed]) -> float:
    """Seconds the parse workers need at the least: feedparser's CPU for every body, through
    digest's parser, shared by MAX_WORKERS workers."""
    started = time.process_time()
    for feed in feeds:
        result = parse_feed_safely(
            feed.body, feed.path, feed.path, "application/rss+xml", PUBLISHED
        )
        if isinstance(result, str):
            raise BenchError(f"{feed.path}: {result}")
    return (time.process_time() - started) / MAX_WORKERS


def describe(tool: str, kind: str, run: Run) -> str:
    served = run.served
    return (
        f"  {tool:<9} {kind}: wall {run.wall:6.2f} s  cpu {run.cpu:6.2f} s   servers: "
        f"{served['requests']} requests on {served['connections']} connections, "
        f"{served[200]} x 200, {served[304]} x 304"
    )


def summary(
    runs: dict[tuple[str, str], list[Run]], floor: float, feeds: int, per_entry: bool
) -> bool:
    print(f"\nsummary, medians of {len(runs['digest', 'cold'])} ({feeds} feeds x {ITEMS} items):")
    met = True
    for kind in ("cold", "warm"):
        ours, theirs = runs["digest", kind], runs["rss2email", kind]
        ratio = median(r.wall for r in theirs) / median(r.wall for r in ours)
        met &= ratio >= TARGETS[kind]
        print(
            f"  {kind}: digest {_medians(ours)}, rss2email {_medians(theirs)}: {ratio:5.1f}x "
            f"faster, target >= {TARGETS[kind]:g}x: {'met' if ratio >= TARGETS[kind] else 'MISSED'}"
        )
    cold = median(r.wall for r in runs["digest", "cold"])
    print(
        f"  parse floor (feedparser CPU / {MAX_WORKERS} workers): {floor:.2f} s; "
        f"digest cold is {cold / floor:.2f}x it"
    )
    mode = "one message per entry" if per_entry else "digest = True, one message per feed"
    print(f"  rss2email: {RSS2EMAIL}, {mode}")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"  machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average at the end {load}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    return met


def _medians(runs: list[Run]) -> str:
    return f"{median(r.wall for r in runs):6.2f} s (cpu {median(r.cpu for r in runs):5.2f} s)"


def benchmark(count: int, repeat: int, per_entry: bool, workdir: Path) -> bool:
    feeds = [make_feed(index) for index in range(count)]
    print(
        f"{count} feeds x {ITEMS} items, {LATENCY * 1000:.0f} ms latency; installing {RSS2EMAIL} "
        "into a throwaway virtual environment"
    )
    r2e = install_rss2email(workdir)
    runs: dict[tuple[str, str], list[Run]] = {
        (tool, kind): [] for tool in ("digest", "rss2email") for kind in ("cold", "warm")
    }
    counters = Counters()
    with contextlib.ExitStack() as stack:
        urls = start_servers(stack, feeds, counters)
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for number in range(1, repeat + 1):
            print(f"round {number}:")
            pairs = {
                "digest": partial(digest_pair, workdir / f"digest-{number}", feeds, urls, counters),
                "rss2email": partial(
                    r2e_pair, workdir / f"r2e-{number}", r2e, feeds, urls, counters, per_entry
                ),
            }
            order = list(pairs) if number % 2 else list(reversed(pairs))
            for tool in order:
                cold, warm = pairs[tool]()
                runs[tool, "cold"].append(cold)
                runs[tool, "warm"].append(warm)
                print(describe(tool, "cold", cold))
                print(describe(tool, "warm", warm))
    return summary(runs, parse_floor(feeds), count, per_entry)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100, help="feeds (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--r2e-per-entry", action="store_true", help="rss2email mails one message per entry"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-peer-bench-") as tmp:
        try:
            benchmark(args.feeds, max(1, args.repeat), args.r2e_per_entry, Path(tmp))
        except BenchError as exc:
            print(f"!!! FAIL: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
