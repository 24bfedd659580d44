"""Benchmark `digest send` to 100,000 subscribers through the fake SendGrid with 50 ms latency.

Set-up (not timed): a small site (one local feed and a weeknote page), 100,000 subscribers
imported from a CSV, and the fake SendGrid API of the test suite on 127.0.0.1 answering every
request after 50 ms. Then `python -m digest send` runs in its own process, as cron runs it, and
the benchmark prints its wall time, its CPU time, its peak RSS (from os.wait4), the number of
mail/send requests the fake received, and whether every subscriber got exactly one message.

Run from the repository root: `.venv/bin/python bench/send_bench.py [--subscribers N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from digest.core.config import load_config  # noqa: E402
from tests.fake_sendgrid import FakeSendGrid  # noqa: E402
from tests.test_send import subscribe, write_site  # noqa: E402

LATENCY = 0.05
TARGETS = {"requests": 100, "wall": 10.0, "rss_mb": 300.0}


def run_send(site: Path, fake: FakeSendGrid) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, output) of one `digest send` process."""
    env = {
        **os.environ,
        "SENDGRID_API_KEY": fake.api_key,
        "SENDGRID_API_HOST": fake.host,
        "no_proxy": "127.0.0.1",
    }
    out = site.parent / "send.out"
    command = [sys.executable, "-m", "digest", "send", "-c", str(site)]
    started = time.perf_counter()
    with out.open("wb") as sink:
        pid = os.posix_spawn(
            sys.executable, command, env, file_actions=[(os.POSIX_SPAWN_DUP2, sink.fileno(), 1)]
        )
        _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    output = out.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"!!! FAIL: digest send exited {os.waitstatus_to_exitcode(status)}:\n{output}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-send-bench-") as tmp:
        site = write_site(Path(tmp))
        started = time.perf_counter()
        addresses = subscribe(load_config(site), args.subscribers)
        print(f"{len(addresses):,} subscribers imported in {time.perf_counter() - started:.1f} s")
        with FakeSendGrid(latency=LATENCY) as fake:
            wall, cpu, rss, output = run_send(site, fake)
            requests = len(fake.requests_to("/v3/mail/send"))
            deliveries = fake.deliveries()
    once = set(deliveries) == set(addresses) and set(deliveries.values()) == {1}
    print(output.strip())
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    print(f"\n{machine}, {LATENCY * 1000:.0f} ms latency per request")
    figures = {"requests": requests, "wall": wall, "rss_mb": rss}
    for name, value in figures.items():
        verdict = "met" if value <= TARGETS[name] else "MISSED"
        print(f"  {name:9} {value:10.1f}   target <= {TARGETS[name]:g}: {verdict}")
    print(f"  cpu       {cpu:10.1f} s")
    print(f"  exactly one message per subscriber: {'yes' if once else 'NO'}")
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
