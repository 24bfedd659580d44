"""Benchmark `digest fetch` on 100 and 400 synthetic RSS feeds served over loopback HTTP.

For each feed count and each of `--repeat` rounds: a cold run (a fresh state db: every feed is
downloaded and parsed), then a warm run on the same db (every feed answers 304: no body is sent).
Each run is `python -m digest fetch --json` in its own process with digest's *default* fetch
settings (printed first), and reports:

- wall time, and the CPU of digest and its parse workers (user + sys, from `os.wait4`);
- the peak memory of the whole process tree: digest, its parse workers and multiprocessing's
  resource tracker, found by scanning /proc for descendants every ~20 ms and summed at each
  sample. Both sums are kept: RSS (what `ps` shows; pages the processes share, such as libpython,
  count once per process, so the sum overstates) and PSS (shared pages split between the
  processes sharing them). The target is on the RSS sum;
- what the servers answered, and the CPU they used meanwhile (they share the machine).

It ends with the medians per feed count against the targets (cold peak RSS of the tree <= 150 MB
at 400 feeds; warm wall <= 0.45 s at 100 feeds and <= 0.8 s at 400; a cold run within 10% of the
parse floor, the parse CPU shared by digest's parse workers), and the wall time of `digest
--help` and of `digest fetch` with no feeds: what every run pays to start and stop, whatever it
fetches. The machine's load average is printed at the start and the end: on a shared machine,
other work's share of the cores shows in every wall time.

The feeds (50 items, about 62 KB each, seeded so every run sees the same bytes) are served by 20
`ThreadingHTTPServer`s on 127.0.0.1 … 127.0.0.20 (feed i from host i % 20 + 1) that wait 100 ms
before every answer and send an ETag and a Last-Modified (a matching If-None-Match gets a 304).

Run from the repository root:
`.venv/bin/python bench/fetch_bench.py [--feeds 100 400] [--repeat N]`.
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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import median
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).parent.parent))
from digest.sources.workers import MAX_WORKERS
from tests.server import LoopbackServer

FEED_COUNTS = (100, 400)
FEEDS = 200  # the corpus build_bench.py writes as local files
ITEMS, HOSTS = 50, 20
LATENCY = 0.1  # seconds each request waits before it is answered
SAMPLE_EVERY = 0.02  # seconds between two samples of the process tree's memory
RUN_TIMEOUT = 60.0  # seconds before a digest run is killed and the benchmark stops
HELP_RUNS = 7
PUBLISHED = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # the newest item; fixed so bodies never change
PAGE = os.sysconf("SC_PAGE_SIZE")
# (figure, feed count): the most it may be
TARGETS = {
    ("cold peak RSS, MB", 400): 150.0,
    ("warm wall, s", 100): 0.45,
    ("warm wall, s", 400): 0.8,
    ("cold / parse floor, x", 100): 1.1,
    ("cold / parse floor, x", 400): 1.1,
}

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


@dataclass
class TreeMemory:
    """The peak memory of a process and its descendants, summed over them at each sample."""

    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    most_processes: int = 0


@dataclass(frozen=True)
class Child:
    """One finished `python -m digest` process."""

    wall: float
    cpu: float  # user + sys, its parse workers included
    memory: TreeMemory
    stdout: str


@dataclass(frozen=True)
class Run:
    """One `digest fetch --json` run and what the servers answered during it."""

    feeds: int
    child: Child
    sources: list[dict]
    served: Counter
    server_cpu: float  # CPU the loopback servers used meanwhile, on the same machine

    @property
    def parse_cpu(self) -> float:
        return sum(source["parse_seconds"] for source in self.sources)


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
    """FEEDS feeds, also written as files under `directory`/feeds (for build_bench.py)."""
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


class FeedServer(LoopbackServer):
    def __init__(self, host: str, feeds: list[Feed], counters: Counters):
        super().__init__((host, 0), FeedHandler)
        self.feeds = {feed.path: feed for feed in feeds}
        self.counters = counters
        # A short poll interval lets `shutdown` return at once rather than after up to 0.5 s.
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def handle_error(self, request, client_address) -> None:
        """Quiet about clients that hang up (a killed run); loud about anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the standard report
            ThreadingHTTPServer.handle_error(self, request, client_address)

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
    """Serve feed i from host 127.0.0.(i % HOSTS + 1); return each feed's URL by path."""
    urls = {}
    for host in range(HOSTS):
        mine = feeds[host::HOSTS]
        server = FeedServer(f"127.0.0.{host + 1}", mine, counters)
        server.thread.start()
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        urls.update({feed.path: server.url(feed) for feed in mine})
    return urls


# ---- the memory of a process tree ----


class TreeSampler:
    """Samples, in a thread, the memory of process `root` and all its descendants every
    SAMPLE_EVERY seconds until stopped, keeping the peak of the sums in `memory`."""

    def __init__(self, root: int):
        self.root = root
        self.memory = TreeMemory()
        self._parents: dict[int, int] = {}  # pid -> ppid, read once per pid: /proc is slow
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(SAMPLE_EVERY):
                return

    def _sample(self) -> None:
        tree = self._tree()
        rss = sum(_rss_bytes(pid) for pid in tree) / 1e6
        pss = sum(_pss_bytes(pid) for pid in tree) / 1e6
        memory = self.memory
        memory.peak_rss_mb = max(memory.peak_rss_mb, rss)
        memory.peak_pss_mb = max(memory.peak_pss_mb, pss)
        memory.most_processes = max(memory.most_processes, len(tree))

    def _tree(self) -> list[int]:
        """The root and every process descended from it (the /proc of this kernel has no
        task/*/children, so parents are read from /proc/PID/stat)."""
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in self._parents:
                self._parents[int(name)] = _parent(int(name))
        children = defaultdict(list)
        for pid, parent in self._parents.items():
            children[parent].append(pid)
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children[pid])
        return tree


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rpartition(")")[2].split()[1])  # the name in parentheses may hold spaces


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0  # gone, or a zombie


def _pss_bytes(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no mappings


# ---- digest runs ----


def write_config(directory: Path, feeds: list[Feed], urls: dict[str, str]) -> Path:
    """A feeds.yaml listing `feeds` at `urls` (by path), with digest's default fetch settings."""
    themes = "".join(
        f"  - name: {name}\n    keywords: [{', '.join(words)}]\n" for name, words in THEMES.items()
    )
    entries = "".join(
        f"\n  - name: {json.dumps(feed.name)}\n    url: {urls[feed.path]}\n"
        f"    theme: {feed.theme}\n    enabled: true"
        for feed in feeds
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    path.write_text(
        "# Generated by bench/fetch_bench.py\n\nnewsletter:\n"
        "  title: Benchmark Digest\n  website: https://bench.example\n"
        '  sender: "Benchmark Digest <digest@bench.example>"\n'
        "  timezone: Europe/London\n  window_days: 7\n  catch_all: Other news\n\n"
        f"themes:\n{themes}\nfeeds:{entries or ' []'}\nstate:\n  db: state.db\n",
        encoding="utf-8",
    )
    return path


def run_digest(args: list[str], workdir: Path, ok_codes: tuple[int, ...] = (0,)) -> Child:
    """Run `python -m digest ARGS`, sampling the memory of its process tree and killing its
    process group after RUN_TIMEOUT seconds; an exit status outside `ok_codes` stops the
    benchmark."""
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
    with TreeSampler(pid) as sampler:
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
    killer.cancel()
    code = os.waitstatus_to_exitcode(status)
    if code not in ok_codes:
        reason = f"killed after {RUN_TIMEOUT:g} s" if code == -signal.SIGKILL else f"exit {code}"
        tail = err.read_text(errors="replace").strip()[-500:]
        raise BenchError(f"digest {' '.join(args)}: {reason}\n{tail}")
    return Child(wall, usage.ru_utime + usage.ru_stime, sampler.memory, out.read_text())


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def fetch_run(config: Path, feeds: int, counters: Counters) -> Run:
    counters.take()
    before = resource.getrusage(resource.RUSAGE_SELF)
    # 1 and 3 (all or some sources failed) still print the JSON report the checks explain.
    child = run_digest(["fetch", "--json", "-c", str(config)], config.parent, (0, 1, 3))
    after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(feeds, child, json.loads(child.stdout)["sources"], counters.take(), server_cpu)


def check(ok: bool, message: str) -> bool:
    if not ok:
        print(f"  !!! FAIL: {message}")
    return ok


def check_cold(run: Run) -> bool:
    statuses = Counter(source["status"] for source in run.sources)
    new_items = sum(source["new_items"] for source in run.sources)
    errors = [source["error"] for source in run.sources if source["error"]]
    first_error = f" (first error: {errors[0]})" if errors else ""
    expected = run.feeds * ITEMS
    return check(
        statuses["new"] == run.feeds,
        f"expected {run.feeds} sources 'new', got {dict(statuses)}{first_error}",
    ) & check(new_items == expected, f"expected {expected} new items, got {new_items}")


def check_warm(run: Run) -> bool:
    statuses = Counter(source["status"] for source in run.sources)
    return check(
        statuses["unchanged"] == run.feeds,
        f"expected {run.feeds} sources 'unchanged', got {dict(statuses)}",
    ) & check(
        run.served[304] == run.feeds and run.served[200] == 0,
        f"expected {run.feeds} answers 304 and none 200, got {run.served[304]} and "
        f"{run.served[200]}",
    )


def describe(label: str, run: Run) -> str:
    child, served, memory = run.child, run.served, run.child.memory
    return (
        f"  {label}: wall {child.wall:5.2f} s  cpu {child.cpu:5.2f} s "
        f"(parse {run.parse_cpu:5.2f} s)"
        f"  tree peak RSS {memory.peak_rss_mb:4.0f} MB, PSS {memory.peak_pss_mb:4.0f} MB "
        f"({memory.most_processes} processes)\n"
        f"        servers: {served['requests']} requests on {served['connections']} connections, "
        f"{served[200]} x 200, {served[304]} x 304, {served['body bytes'] / 1e6:.2f} MB of "
        f"bodies, {run.server_cpu:.2f} s CPU"
    )


def run_pair(
    count: int, number: int, workdir: Path, feeds: list[Feed], urls: dict, counters: Counters
) -> tuple[Run, Run, bool]:
    """A cold run of the first `count` feeds on a fresh db, then a warm run on the same db."""
    config = write_config(workdir / f"{count}-feeds-{number}", feeds[:count], urls)
    print(f"{count} feeds, repeat {number}:")
    cold = fetch_run(config, count, counters)
    print(describe("cold", cold))
    warm = fetch_run(config, count, counters)
    print(describe("warm", warm))
    return cold, warm, check_cold(cold) & check_warm(warm)


def time_fixed_costs(workdir: Path) -> tuple[float, float]:
    """The wall time of `digest --help`, and of `digest fetch` with no feeds: what every run
    pays to start (imports, config, state db) and stop, whatever it fetches."""
    config = write_config(workdir / "no-feeds", [], {})
    help_wall = median(run_digest(["--help"], workdir).wall for _ in range(HELP_RUNS))
    no_feeds = ["fetch", "-c", str(config)]
    return help_wall, median(run_digest(no_feeds, config.parent).wall for _ in range(HELP_RUNS))


# ---- report ----


@dataclass
class Figures:
    """The runs of one feed count."""

    colds: list[Run] = field(default_factory=list)
    warms: list[Run] = field(default_factory=list)

    def medians(self) -> dict[str, float]:
        def of(runs: list[Run], value) -> float:
            return median(value(run) for run in runs)

        return {
            "cold wall, s": of(self.colds, lambda r: r.child.wall),
            "parse floor, s": of(self.colds, lambda r: r.parse_cpu / MAX_WORKERS),
            "cold / parse floor, x": of(
                self.colds, lambda r: r.child.wall * MAX_WORKERS / r.parse_cpu
            ),
            "cold CPU, s": of(self.colds, lambda r: r.child.cpu),
            "cold peak RSS, MB": of(self.colds, lambda r: r.child.memory.peak_rss_mb),
            "cold peak PSS, MB": of(self.colds, lambda r: r.child.memory.peak_pss_mb),
            "cold processes": of(self.colds, lambda r: r.child.memory.most_processes),
            "warm wall, s": of(self.warms, lambda r: r.child.wall),
            "warm peak RSS, MB": of(self.warms, lambda r: r.child.memory.peak_rss_mb),
            "warm processes": of(self.warms, lambda r: r.child.memory.most_processes),
        }


def cell(name: str, count: int, value: float) -> str:
    """A measured value, with its target and whether it was met when it has one."""
    text = f"{value:.2f}" if name.endswith((", s", ", x")) else f"{value:.0f}"
    target = TARGETS.get((name, count))
    if target is None:
        return text
    return f"{text} ({'ok' if value <= target else 'MISSED'} <= {target:g})"


def summary(figures: dict[int, Figures], fixed: tuple[float, float], repeat: int) -> None:
    medians = {count: figures[count].medians() for count in figures}
    print(f"\nsummary: medians of {repeat}; memory summed over the process tree")
    print(f"  {'figure':<20}" + "".join(f"{f'{count} feeds':>26}" for count in medians))
    for name in next(iter(medians.values())):
        cells = "".join(f"{cell(name, count, m[name]):>26}" for count, m in medians.items())
        print(f"  {name:<20}{cells}")
    print(
        f"  fixed costs, medians of {HELP_RUNS}: digest --help {fixed[0]:.3f} s, "
        f"digest fetch with no feeds {fixed[1]:.3f} s"
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  load average at the end: {load} (1, 5, 15 minutes)")
    processor = platform.processor() or platform.machine()
    print(
        f"  machine: {processor}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.system()} {platform.release()})"
    )


def default_settings() -> str:
    from digest.core.settings import FetchSettings

    settings = FetchSettings()
    return (
        f"fetch.concurrency {settings.concurrency}, fetch.per_host {settings.per_host}, "
        f"fetch.revalidate_concurrency {settings.revalidate_concurrency}, "
        f"fetch.revalidate_per_host {settings.revalidate_per_host}"
    )


def benchmark(counts: list[int], repeat: int, workdir: Path) -> bool:
    feeds = [make_feed(index) for index in range(max(counts))]
    size = sum(len(feed.body) for feed in feeds) / len(feeds)
    print(
        f"{'/'.join(map(str, counts))} feeds x {ITEMS} items, {size / 1e3:.1f} KB per feed, "
        f"{HOSTS} hosts, {LATENCY * 1000:.0f} ms latency; digest's defaults: "
        f"{default_settings()}\n"
    )
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    counters, figures, oks = Counters(), {count: Figures() for count in counts}, []
    with contextlib.ExitStack() as stack:
        urls = start_servers(stack, feeds, counters)
        for number in range(1, repeat + 1):
            for count in counts:
                cold, warm, ok = run_pair(count, number, workdir, feeds, urls, counters)
                figures[count].colds.append(cold)
                figures[count].warms.append(warm)
                oks.append(ok)
        fixed = time_fixed_costs(workdir)
    summary(figures, fixed, repeat)
    return all(oks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--feeds", type=int, nargs="+", default=list(FEED_COUNTS), help="feed counts (100 400)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm pairs (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        try:
            ok = benchmark(args.feeds, max(1, args.repeat), Path(tmp))
        except BenchError as exc:
            print(f"!!! FAIL: {exc}")
            return 1
    if not ok:
        print("!!! FAIL: some runs did not fetch what they should (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
