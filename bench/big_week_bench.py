"""Benchmark a big, hostile week: a 5,000-link weeknote built with and without a network, and
enrichment reading gzip-bomb pages.

1. **A 5,000-link weeknote**: ten themed sections of 500 links each, every link to one host.
   Each round times what `digest build` does, in process with the clock passed in: fetch the
   weeknote (a loopback server or a local file), build the issue, write its JSON; on a fresh
   state database, so no page head is cached.
   - with network: the weeknote and its 5,000 linked pages on a loopback server that waits
     100 ms before every answer (the weeknote is configured there, so the address guard lets
     its links reach loopback);
   - without network: the weeknote a local file, its links on a public-looking host, and a
     resolver that fails every lookup after 100 ms, as DNS does on a machine with no network.
   Target: under 10 s each (before issue 23: more than 3 minutes without network).
2. **Gzip bombs**: 24 pages on 24 loopback hosts (127.0.0.1 … 127.0.0.24), each a ~1 MB
   gzip stream that inflates to 1 GB of zeros after a `<head>`, read by `page_heads` in a child
   process whose peak RSS (VmHWM) is reported. Target: under 200 MB (before: ~1.3 GB).

Run from the repository root: `.venv/bin/python bench/big_week_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import json
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from statistics import median

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
from digest.core.config import load_config  # noqa: E402
from digest.core.store import Store  # noqa: E402
from digest.pipeline import build_issue, fetch_sources, save_issue  # noqa: E402
from tests.server import LoopbackServer  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LINKS, SECTIONS = 5000, 10
LATENCY = 0.1  # seconds before each answer, and before each failed lookup
BUILD_TARGET, MEMORY_TARGET = 10.0, 200  # seconds; MB
BOMBS, BOMB_SIZE = 24, 1 << 30
OFFLINE_HOST = "www.health-network.org.uk"
THEMES = [f"Theme {n}" for n in range(SECTIONS)]


def weeknote(base: str) -> bytes:
    per = LINKS // SECTIONS
    sections = "".join(
        f"<h2>{name}</h2><ul>"
        + "".join(
            f'<li><a href="{base}/story/{s}-{n}">Report {s}-{n} on waiting times in the'
            f" region</a>: what the figures show for patients this winter.</li>"
            for n in range(per)
        )
        + "</ul>"
        for s, name in enumerate(THEMES)
    )
    return (
        "<html><head><title>Weeknote 48</title></head><body><article><h1>Weeknote 48</h1>"
        "<p>A very busy week for the network, with more links than anyone could read.</p>"
        f"{sections}</article></body></html>"
    ).encode()


def page(path: str) -> bytes:
    head = f"<title>{path} | Site</title><meta property='og:site_name' content='Site'>"
    return f"<html><head>{head}</head><body><p>Body</p></body></html>".encode()


class Quiet(LoopbackServer):  # digest stops reading a page at </head>, or a bomb at its cap
    requests = 0


def serve(handler, host: str = "127.0.0.1") -> Quiet:
    server = Quiet((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Slow(BaseHTTPRequestHandler):
    """The weeknote at /weeknote, any other path a small page; each after LATENCY."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(LATENCY)
        self.server.requests += 1
        host, port = self.server.server_address[:2]
        body = weeknote(f"http://{host}:{port}") if self.path == "/weeknote" else page(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def write_config(folder: Path, weeknote_url: str, db: str):
    path = folder / "feeds.yaml"
    themes = "".join(f"  - name: {name}\n" for name in THEMES)
    path.write_text(
        "newsletter:\n  title: Bench\n  website: https://community.example\n"
        f"  sender: Bench <digest@community.example>\nthemes:\n{themes}"
        f"weeknote:\n  url: {weeknote_url}\nstate:\n  db: {db}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    return dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, online=True))


async def no_dns(host: str):
    await asyncio.sleep(LATENCY)
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def timed_build(config, resolver=None) -> tuple[float, object]:
    """`digest build`'s work: fetch, build, save; wall seconds and the issue."""
    kwargs = {"resolver": resolver} if resolver else {}
    started = time.perf_counter()
    with Store.open(config.db_path()) as store:
        fetch_sources(config, store, NOW)
        issue = build_issue(config, store, NOW, **kwargs)
    save_issue(issue, config.path.parent / "build")
    return time.perf_counter() - started, issue


def big_week(folder: Path, rounds: int) -> dict[str, float]:
    server = serve(Slow)
    host, port = server.server_address[:2]
    (folder / "weeknote.html").write_bytes(weeknote(f"https://{OFFLINE_HOST}"))
    walls: dict[str, list[float]] = {"with network": [], "without network": []}
    try:
        for n in range(rounds):
            before = server.requests
            online = write_config(folder, f"http://{host}:{port}/weeknote", f"on-{n}.db")
            wall, issue = timed_build(online)
            walls["with network"].append(wall)
            report("with network", wall, issue, f"{server.requests - before} requests")
            offline = write_config(folder, "weeknote.html", f"off-{n}.db")
            wall, issue = timed_build(offline, no_dns)
            walls["without network"].append(wall)
            report("without network", wall, issue, "every lookup fails")
    finally:
        server.shutdown()
    return {name: median(values) for name, values in walls.items()}


def report(name: str, wall: float, issue, detail: str) -> None:
    counts = issue.counts()
    unread = [w for w in issue.warnings if w.startswith("enrichment:")]
    print(
        f"  {name:16} {wall:6.2f} s  ({counts['shown']} shown, {counts['more']} over the cap; "
        f"{detail}; {len(unread)} enrichment warnings)"
    )


class Bomb(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            self.wfile.write(self.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, *args):
        pass


def bombs(folder: Path) -> float:
    """Peak RSS in MB of a child process reading the heads of BOMBS gzip-bomb pages."""
    print(f"compressing {BOMB_SIZE >> 20} MB of zeros …", flush=True)
    zeros = gzip.compress(b"<html><head><title>Bomb" + b"\0" * BOMB_SIZE, compresslevel=6)
    Bomb.body = zeros
    servers = [serve(Bomb, f"127.0.0.{n}") for n in range(1, BOMBS + 1)]
    urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/page" for s in servers]
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--bomb-child", str(folder), json.dumps(urls)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    finally:
        for server in servers:
            server.shutdown()
    peak, read = json.loads(child.stdout.splitlines()[-1])
    print(f"  {BOMBS} bomb pages ({len(zeros) >> 10} KB each on the wire): {read} heads read")
    return peak


def bomb_child(folder: Path, urls: list[str]) -> None:
    """Read the bombs' heads, then print [peak RSS in MB, heads read without error]."""
    from digest.curation.enrich import page_heads
    from digest.sources.links import IssueLink

    config = write_config(folder, urls[0].replace("/page", "/weeknote"), "bombs.db")
    links = [IssueLink(url, "weeknote", "Weeknote") for url in urls]
    with Store.open(config.db_path()) as store:
        heads = page_heads(links, config, store, NOW).heads
    read = sum(head.error is None for head in heads.values())
    print(json.dumps([peak_rss(), read]))


def peak_rss() -> float:
    """This process's peak RSS in MB, from /proc (VmHWM): unlike ru_maxrss, it starts again at
    exec, so the bench's own gigabyte of zeros, copied at fork, does not count."""
    status = Path("/proc/self/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the big week (3)")
    parser.add_argument("--bomb-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bomb_child:
        bomb_child(Path(args.bomb_child[0]), json.loads(args.bomb_child[1]))
        return 0
    print(f"{LINKS:,} links in {SECTIONS} sections, one host; {LATENCY * 1000:.0f} ms each")
    with tempfile.TemporaryDirectory(prefix="digest-big-week-") as tmp:
        walls = big_week(Path(tmp), max(1, args.repeat))
        peak = bombs(Path(tmp))
    print(f"\nmedians of {args.repeat} on {platform.machine()}, Python {platform.python_version()}")
    for name, wall in walls.items():
        verdict = "met" if wall < BUILD_TARGET else "MISSED"
        print(
            f"  5,000-link build, {name:16} {wall:6.2f} s (target < {BUILD_TARGET:g} s: {verdict})"
        )
    verdict = "met" if peak < MEMORY_TARGET else "MISSED"
    print(
        f"  gzip bombs, peak RSS            {peak:6.0f} MB (target < {MEMORY_TARGET} MB: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
