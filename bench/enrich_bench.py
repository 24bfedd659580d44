"""Benchmark enrichment: reading the heads of 40 linked pages served over loopback HTTP.

Ten `ThreadingHTTPServer`s on 127.0.0.1 … 127.0.0.10 serve four pages each (a ~3 KB head with
Open Graph tags and JSON-LD, then ~60 KB of body that digest should never read), each answer
after 100 ms. The weeknote is configured on 127.0.0.1, so the address guard lets its links reach
loopback addresses, as an internal weeknote's would. Each of `--repeat` rounds times, in process
with the clock passed in and digest's default fetch settings:

- cold: `page_heads` on a fresh state database (every page requested, parsed and stored, and
  its answer recorded for `digest links`);
- cached: `page_heads` again on the same database (no request).

It prints each round, then the medians against the targets (cold <= 2 s, cached <= 50 ms).

Run from the repository root: `.venv/bin/python bench/enrich_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent.parent))
from digest.core.config import load_config
from digest.core.store import Store
from digest.curation.enrich import page_heads
from digest.sources.links import IssueLink
from tests.server import LoopbackServer

HOSTS, PAGES_PER_HOST = 10, 4
LATENCY = 0.1  # seconds before each answer
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TARGETS = {"cold": 2.0, "cached": 0.05}


def page(host: int, n: int) -> bytes:
    head = (
        f'<meta charset="utf-8"><title>Report {host}-{n} | Site {host}</title>'
        f'<meta property="og:title" content="Report {host}-{n} on waiting times">'
        f'<meta property="og:description" content="{"What the report found. " * 20}">'
        f'<meta property="og:site_name" content="Site {host}">'
        f'<link rel="canonical" href="/reports/{n}"><meta property="og:image" content="/i/{n}.png">'
        + '<script type="application/ld+json">{"publisher": {"name": "Site"}}</script>'
        + '<link rel="stylesheet" href="/s.css">' * 40
    )
    body = "<p>" + "Body text that enrichment never needs. " * 1500 + "</p>"
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(LATENCY)
        self.server.requests += 1
        host = int(self.server.server_address[0].rsplit(".", 1)[1])
        body = page(host, int(self.path.rsplit("/", 1)[1]))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # digest stops reading after </head>

    def log_message(self, *args):
        pass


class Server(LoopbackServer):
    requests = 0


def start_servers() -> list[Server]:
    servers = [Server((f"127.0.0.{i}", 0), Handler) for i in range(1, HOSTS + 1)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def links(servers: list[Server]) -> list[IssueLink]:
    return [
        IssueLink(f"http://{host}:{port}/reports/{n}", "weeknote", "Weeknote")
        for server in servers
        for host, port in [server.server_address[:2]]
        for n in range(PAGES_PER_HOST)
    ]


def write_config(folder: Path, weeknote: str):
    path = folder / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Bench\n  website: https://community.example\n"
        "  sender: Bench <digest@community.example>\nthemes:\n  - name: Reports\n"
        f"weeknote:\n  url: {weeknote}\nstate:\n  db: state.db\n",
        encoding="utf-8",
    )
    config = load_config(path)
    return dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, online=True))


def round_(folder: Path, servers: list[Server], number: int) -> dict[str, float]:
    config = write_config(folder, f"http://127.0.0.1:{servers[0].server_address[1]}/weeknote")
    config = dataclasses.replace(config, state=dataclasses.replace(config.state, db=f"{number}.db"))
    wanted = links(servers)
    before = sum(server.requests for server in servers)
    with Store.open(config.db_path()) as store:
        start = time.perf_counter()
        cold = page_heads(wanted, config, store, NOW).heads
        cold_wall = time.perf_counter() - start
        asked = sum(server.requests for server in servers) - before
        start = time.perf_counter()
        cached = page_heads(wanted, config, store, NOW).heads
        cached_wall = time.perf_counter() - start
    read = sum(head.title is not None for head in cold.values())
    again = sum(server.requests for server in servers) - before - asked
    assert read == len(wanted) and cached == cold, "a page was not read or not cached"
    print(
        f"  cold {cold_wall * 1000:6.0f} ms ({asked} requests, {read} heads)   "
        f"cached {cached_wall * 1000:5.1f} ms ({again} requests)"
    )
    return {"cold": cold_wall, "cached": cached_wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    servers = start_servers()
    print(f"{HOSTS * PAGES_PER_HOST} links on {HOSTS} loopback hosts, {LATENCY * 1000:.0f} ms each")
    try:
        with tempfile.TemporaryDirectory(prefix="digest-enrich-bench-") as tmp:
            rounds = [round_(Path(tmp), servers, n) for n in range(max(1, args.repeat))]
    finally:
        for server in servers:
            server.shutdown()
    print(f"\nmedians of {len(rounds)} on {platform.machine()}, Python {platform.python_version()}")
    for step, target in TARGETS.items():
        value = median(r[step] for r in rounds)
        verdict = "met" if value <= target else "MISSED"
        print(f"  {step:7} {value * 1000:7.1f} ms (target <= {target * 1000:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
