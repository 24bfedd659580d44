"""Benchmark `digest fetch` against 200 synthetic RSS feeds served over loopback HTTP.

What it measures, each figure the median of `--repeat` cold/warm pairs (a fresh state db each):

- cold run (empty db): wall time, CPU time of digest and its parse workers (user + sys), peak RSS
  of the largest single process, and the share of that CPU spent parsing (`parse_seconds`);
- warm run (same db): wall time, CPU, and what the servers answered (every feed should be a 304,
  so no body is downloaded);
- `digest --help` wall time (median of 7), and a sequential baseline, estimated as
  200 x (simulated latency + median single-feed parse CPU time).

The feeds (200 x 50 items, about 60 KB each, seeded so every run sees the same bytes) are served
by 20 `ThreadingHTTPServer`s on 127.0.0.1 … 127.0.0.20, 10 feeds each, with 100 ms of latency
per request, an ETag and a Last-Modified (a matching If-None-Match gets a 304). The servers count
connections, requests, statuses and body bytes; the benchmark process's own CPU time during a
run is reported as the servers' CPU, since they share the machine with digest.

digest runs as `python -m digest` in a child process. Its CPU and peak RSS come from `os.wait4`:
the same rusage as a `getrusage(RUSAGE_CHILDREN)` delta (parse workers included), but for that
child alone, so the peak RSS is that run's rather than the largest seen so far.

Run from the repository root: `.venv/bin/python bench/fetch_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import median
from xml.sax.saxutils import escape

FEEDS, ITEMS, HOSTS = 200, 50, 20
LATENCY = 0.1  # seconds each request waits before it is answered
RUN_TIMEOUT = 60.0  # seconds before a digest run is killed and the benchmark stops
HELP_RUNS = 7
PUBLISHED = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # the newest item; fixed so bodies never change

PLACES = [
    "Northfield",
    "Eastbrook",
    "Westmoor",
    "Southgate",
    "Ashby",
    "Kelsall",
    "Marston",
    "Harrowden",
    "Linfield",
    "Oakridge",
    "Brampton",
    "Thornbury",
]
ORGS = [
    "Improvement Network",
    "Care Quality Partnership",
    "Digital Care Hub",
    "Primary Care Network",
    "Health Research Centre",
    "Community Health Trust",
    "Wellbeing Collaborative",
    "Health Equity Alliance",
]
SUBJECTS = [
    "Our nursing team",
    "A GP federation",
    "The discharge team",
    "A patient panel",
    "The mental health service",
    "The community pharmacy team",
    "The stroke unit",
    "A care home group",
    "The outpatient department",
    "Our data team",
]
ACTIONS = [
    "pilots",
    "rolls out",
    "evaluates",
    "shares lessons from",
    "expands",
    "reports on",
    "co-designs",
    "scales up",
]
TOPICS = [
    "video consultations",
    "a shared care record",
    "peer support for night staff",
    "social prescribing",
    "PDSA cycles on discharge",
    "remote monitoring for COPD",
    "secure messaging with care homes",
    "digital inclusion sessions",
    "rest break rotas",
    "run charts for falls",
    "menopause support at work",
    "a learning health system",
]
FINDINGS = [
    "waiting times fell by a fifth over the quarter",
    "patients rated the new process 4.6 out of 5",
    "staff sickness absence dropped for the third month running",
    "two more practices have asked to join the next cohort",
    "the team saved around six clinical hours a week",
    "uptake was lowest in the most deprived neighbourhoods",
    "the approach is now part of the standard induction",
]
CATEGORIES = [
    "Quality improvement",
    "Digital",
    "Workforce",
    "Wellbeing",
    "Inequalities",
    "Events",
    "Research",
    "Primary care",
    "Mental health",
    "Patient experience",
]
THEMES = {
    "Rapid learning and improvement": [
        "quality improvement",
        "PDSA",
        "run chart",
        "learning health system",
    ],
    "Video consultations": ["video consultation", "remote monitoring", "telehealth"],
    "Staff health and wellbeing": ["wellbeing", "sickness absence", "rest break", "peer support"],
    "Health inequalities": ["inequalities", "deprived", "digital inclusion", "social prescribing"],
}


@dataclass(frozen=True)
class Feed:
    path: str
    name: str
    theme: str
    body: bytes
    etag: str


@dataclass(frozen=True)
class Child:
    """One finished `python -m digest` process."""

    wall: float
    cpu: float  # user + sys, its parse workers included
    peak_rss_mb: float  # the largest single process of the run
    stdout: str


@dataclass(frozen=True)
class Run:
    """One `digest fetch --json` run and what the servers answered during it."""

    child: Child
    sources: list[dict]
    served: Counter
    server_cpu: float  # CPU the loopback servers used meanwhile, on the same machine

    @property
    def parse_cpu(self) -> float:
        return sum(source["parse_seconds"] for source in self.sources)

    @property
    def parse_share(self) -> float:
        return self.parse_cpu / self.child.cpu if self.child.cpu else 0.0


class BenchError(Exception):
    """The benchmark cannot go on (a digest run failed or hung)."""


# ---- synthetic feeds ----


def item_xml(rng: random.Random, site: str, index: int) -> str:
    title = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(TOPICS)}"
    slug = "-".join(title.lower().split())[:60]
    link = f"{site}/posts/{index:03d}-{slug}"
    when = PUBLISHED - timedelta(hours=index * 3 + rng.randrange(3))
    categories = "".join(f"<category>{escape(c)}</category>" for c in rng.sample(CATEGORIES, 2))
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f'<guid isPermaLink="true">{link}</guid><pubDate>{format_datetime(when)}</pubDate>'
        f"{categories}<description><![CDATA[{description_html(rng, link)}]]></description>"
        "</item>\n"
    )


def description_html(rng: random.Random, link: str) -> str:
    """About 850 bytes of ordinary blog-post HTML: paragraphs, a list, emphasis and a link."""
    paragraphs = "".join(
        f"<p>{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} <strong>{rng.choice(TOPICS)}</strong> "
        f"across {rng.choice(PLACES)}, and early results suggest {rng.choice(FINDINGS)}. "
        f"<em>{rng.choice(SUBJECTS)}</em> will next look at {rng.choice(TOPICS)}.</p>"
        for _ in range(2)
    )
    bullets = "".join(f"<li>{rng.choice(FINDINGS).capitalize()}</li>" for _ in range(2))
    return (
        f"{paragraphs}<ul>{bullets}</ul>"
        f'<p><a href="{link}?utm_source=rss">Read the full post</a> &amp; share it.</p>'
    )


def make_feed(index: int) -> Feed:
    rng = random.Random(index)
    name = f"{rng.choice(PLACES)} {rng.choice(ORGS)} {index:03d}"
    site = f"https://partner-{index:03d}.example"
    items = "".join(item_xml(rng, site, n) for n in range(ITEMS))
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>{site}/</link>"
        f"<description>News from {escape(name)}</description><language>en-gb</language>"
        f"<lastBuildDate>{format_datetime(PUBLISHED)}</lastBuildDate>\n{items}"
        "</channel></rss>\n"
    ).encode()
    theme = list(THEMES)[index % len(THEMES)]
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Feed(f"/feeds/feed-{index:03d}.xml", name, theme, body, etag)


def write_feeds(directory: Path) -> list[Feed]:
    feeds = [make_feed(index) for index in range(FEEDS)]
    (directory / "feeds").mkdir()
    for feed in feeds:
        (directory / feed.path.lstrip("/")).write_bytes(feed.body)
    return feeds


# ---- loopback servers ----


class Counters:
    """What all the servers saw and answered, by connection, status and body bytes; `take`
    returns the counts so far and starts again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter = Counter()

    def add(self, counts: dict) -> None:
        with self._lock:
            self._counts.update(counts)

    def take(self) -> Counter:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, feeds: list[Feed], counters: Counters):
        super().__init__((host, 0), FeedHandler)
        self.feeds = {feed.path: feed for feed in feeds}
        self.counters = counters
        # A short poll interval lets `shutdown` return at once rather than after up to 0.5 s.
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def handle_error(self, request, client_address) -> None:
        """Quiet about clients that hang up (a killed run); loud about anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def url(self, feed: Feed) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{feed.path}"


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FeedServer
    last_modified = format_datetime(PUBLISHED, usegmt=True)

    def setup(self) -> None:
        super().setup()
        self.server.counters.add({"connections": 1})

    def do_GET(self) -> None:
        time.sleep(LATENCY)
        feed = self.server.feeds.get(self.path)
        if feed is None:
            self.answer(404, b"not found", {})
            return
        validators = {"ETag": feed.etag, "Last-Modified": self.last_modified}
        if self.headers.get("If-None-Match") == feed.etag:
            self.answer(304, b"", validators)
        else:
            self.answer(200, feed.body, {"Content-Type": "application/rss+xml", **validators})

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.server.counters.add({"requests": 1, status: 1, "body bytes": len(body)})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        """Silent: the benchmark prints its own counts."""


def start_servers(
    stack: contextlib.ExitStack, feeds: list[Feed], counters: Counters
) -> dict[str, str]:
    """Serve feed i from host 127.0.0.(i % 20 + 1); return each feed's URL by path."""
    urls = {}
    for host in range(HOSTS):
        mine = feeds[host::HOSTS]
        server = FeedServer(f"127.0.0.{host + 1}", mine, counters)
        server.thread.start()
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        urls.update({feed.path: server.url(feed) for feed in mine})
    return urls


# ---- digest runs ----


def write_config(directory: Path, feeds: list[Feed], urls: dict[str, str]) -> Path:
    themes = "".join(
        f"  - name: {name}\n    keywords: [{', '.join(words)}]\n" for name, words in THEMES.items()
    )
    entries = "".join(
        f"  - name: {json.dumps(feed.name)}\n    url: {urls[feed.path]}\n"
        f"    theme: {feed.theme}\n    enabled: true\n"
        for feed in feeds
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    path.write_text(
        "# Generated by bench/fetch_bench.py\n\nnewsletter:\n"
        "  title: Benchmark Digest\n  website: https://bench.example\n"
        '  sender: "Benchmark Digest <digest@bench.example>"\n'
        "  timezone: Europe/London\n  window_days: 7\n  catch_all: Other news\n\n"
        f"themes:\n{themes}\nfeeds:\n{entries}\nstate:\n  db: state.db\n\n"
        "fetch:\n  concurrency: 64\n  per_host: 4\n",
        encoding="utf-8",
    )
    return path


def run_digest(args: list[str], workdir: Path, ok_codes: tuple[int, ...] = (0,)) -> Child:
    """Run `python -m digest ARGS`, killing its process group after RUN_TIMEOUT seconds; an exit
    status outside `ok_codes` stops the benchmark."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, str(out), flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(err), flags, 0o644),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DIGEST_DB", "DIGEST_CONFIG")}
    started = time.perf_counter()
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "digest", *args],
        env,
        file_actions=actions,
        setpgroup=0,
    )
    killer = threading.Timer(RUN_TIMEOUT, _kill_group, (pid,))
    killer.start()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    killer.cancel()
    code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        reason = f"killed after {RUN_TIMEOUT:g} s" if code == -signal.SIGKILL else f"exit {code}"
        tail = err.read_text(errors="replace").strip()[-500:]
        raise BenchError(f"digest {' '.join(args)}: {reason}\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return Child(wall, cpu, usage.ru_maxrss / 1024, out.read_text())


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def fetch_run(config: Path, counters: Counters) -> Run:
    counters.take()
    before = resource.getrusage(resource.RUSAGE_SELF)
    # 1 and 3 (all or some sources failed) still print the JSON report the checks explain.
    child = run_digest(["fetch", "--json", "-c", str(config)], config.parent, (0, 1, 3))
    after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(child, json.loads(child.stdout)["sources"], counters.take(), server_cpu)


def check(ok: bool, message: str) -> bool:
    if not ok:
        print(f"  !!! FAIL: {message}")
    return ok


def check_cold(run: Run) -> bool:
    statuses = Counter(source["status"] for source in run.sources)
    new_items = sum(source["new_items"] for source in run.sources)
    errors = [source["error"] for source in run.sources if source["error"]]
    first_error = f" (first error: {errors[0]})" if errors else ""
    return all(
        [
            check(
                statuses["new"] == FEEDS,
                f"expected {FEEDS} sources 'new', got {dict(statuses)}{first_error}",
            ),
            check(
                new_items == FEEDS * ITEMS, f"expected {FEEDS * ITEMS} new items, got {new_items}"
            ),
        ]
    )


def check_warm(run: Run) -> bool:
    statuses = Counter(source["status"] for source in run.sources)
    return all(
        [
            check(
                statuses["unchanged"] == FEEDS,
                f"expected {FEEDS} sources 'unchanged', got {dict(statuses)}",
            ),
            check(run.served[304] == FEEDS, f"expected {FEEDS} answers 304, got {run.served[304]}"),
        ]
    )


def describe(label: str, run: Run) -> str:
    child, served = run.child, run.served
    return (
        f"  {label}: wall {child.wall:5.2f} s  cpu {child.cpu:5.2f} s "
        f"(parse {run.parse_cpu:5.2f} s = {run.parse_share:4.0%})  "
        f"peak RSS {child.peak_rss_mb:3.0f} MB\n        servers: {served['requests']} requests "
        f"on {served['connections']} connections, {served[200]} x 200, {served[304]} x 304, "
        f"{served['body bytes'] / 1e6:.2f} MB of bodies, {run.server_cpu:.2f} s CPU"
    )


def run_pair(
    number: int, workdir: Path, feeds: list[Feed], urls: dict[str, str], counters: Counters
) -> tuple[Run, Run, bool]:
    """A cold run on a fresh db, then a warm run on the same db."""
    config = write_config(workdir / f"repeat-{number}", feeds, urls)
    print(f"repeat {number}:")
    cold = fetch_run(config, counters)
    print(describe("cold", cold))
    cold_ok = check_cold(cold)
    warm = fetch_run(config, counters)
    print(describe("warm", warm))
    return cold, warm, check_warm(warm) and cold_ok


def time_help(workdir: Path) -> float:
    return median(run_digest(["--help"], workdir).wall for _ in range(HELP_RUNS))


# ---- report ----


def sequential_estimate(colds: list[Run]) -> tuple[float, float]:
    """(estimated seconds to fetch and parse every feed one after another, median parse time)."""
    parse = median(s["parse_seconds"] for run in colds for s in run.sources)
    return FEEDS * (LATENCY + parse), parse


def target_row(name: str, value: float, unit: str, digits: int, limit: float) -> tuple[str, ...]:
    """A summary row; the value must stay below `limit`, or be exactly 0 when `limit` is 0."""
    ok = value == 0 if limit == 0 else value < limit
    target = f"{'<' if limit else '='} {limit:g} {unit}".strip()
    return name, f"{value:.{digits}f} {unit}".strip(), target, "ok" if ok else "MISSED"


def summary(colds: list[Run], warms: list[Run], help_wall: float) -> None:
    cpu = f"{median(r.child.cpu for r in colds):.2f} s ({median(r.parse_share for r in colds):.0%})"
    rows = [
        target_row("cold wall", median(r.child.wall for r in colds), "s", 2, 6),
        target_row("cold peak RSS", median(r.child.peak_rss_mb for r in colds), "MB", 0, 250),
        ("cold CPU (parse share)", cpu, "-", ""),
        target_row("warm wall", median(r.child.wall for r in warms), "s", 2, 1.5),
        target_row("warm bodies (worst run)", max(r.served[200] for r in warms), "", 0, 0),
        target_row("digest --help", help_wall, "s", 3, 0.3),
    ]
    print(f"\nsummary (median of {len(colds)} repeats)")
    print(f"  {'figure':<26}{'measured':>16}  {'target':<10}result")
    for name, value, target, result in rows:
        print(f"  {name:<26}{value:>16}  {target:<10}{result}".rstrip())
    processor = platform.processor() or platform.machine()
    print(
        f"  machine: {processor}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.release()})"
    )


def benchmark(repeat: int, workdir: Path) -> bool:
    feeds = write_feeds(workdir)
    sizes = [len(feed.body) for feed in feeds]
    print(
        f"{FEEDS} feeds x {ITEMS} items, {sum(sizes) / len(sizes) / 1e3:.1f} KB per feed "
        f"({sum(sizes) / 1e6:.1f} MB), {HOSTS} hosts, {LATENCY * 1000:.0f} ms latency, "
        f"in {workdir}\n"
    )
    counters = Counters()
    with contextlib.ExitStack() as stack:
        urls = start_servers(stack, feeds, counters)
        pairs = [run_pair(n, workdir, feeds, urls, counters) for n in range(1, repeat + 1)]
        help_wall = time_help(workdir)
    colds, warms, oks = zip(*pairs, strict=True)
    baseline, parse = sequential_estimate(colds)
    print(
        f"\nsequential baseline (estimate, not measured: {FEEDS} x ({LATENCY * 1000:.0f} ms "
        f"latency + median parse {parse * 1000:.1f} ms)): {baseline:.1f} s, "
        f"{baseline / median(r.child.wall for r in colds):.1f}x the cold wall"
    )
    summary(colds, warms, help_wall)
    return all(oks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm pairs (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        try:
            ok = benchmark(max(1, args.repeat), Path(tmp))
        except BenchError as exc:
            print(f"!!! FAIL: {exc}")
            return 1
    if not ok:
        print("!!! FAIL: some runs did not fetch what they should (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
