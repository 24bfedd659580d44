"""Benchmark `digest send` to 100,000 subscribers through the fake SendGrid with 50 ms latency,
one batch at a time and with batches side by side (sending.parallel).

Set-up (not timed): a small site (one local feed and a weeknote page), 100,000 subscribers
imported from a CSV, and the fake SendGrid API of the test suite on 127.0.0.1 answering every
request after 50 ms. Then `python -m digest send` runs in its own process, as cron runs it, once
with sending.parallel 1 and once with the default 4, each on a fresh state database; the
benchmark prints each one's wall time, CPU time, peak RSS (from os.wait4), the mail/send
requests the fake received and whether every subscriber got exactly one message, and the ratio
of the two wall times.

Run from the repository root: `.venv/bin/python bench/send_bench.py [--subscribers N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
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
PARALLEL = (1, 4)  # one batch at a time, and the default
SPEED_UP = 3.0  # the side-by-side send at least this many times faster


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


def one_send(parallel: int, subscribers: int) -> tuple[dict, bool, str]:
    """Figures of one send with `parallel` batches at once, whether everyone got one copy,
    and what the send printed."""
    with tempfile.TemporaryDirectory(prefix="digest-send-bench-") as tmp:
        site = write_site(Path(tmp), f"  parallel: {parallel}\n")
        started = time.perf_counter()
        addresses = subscribe(load_config(site), subscribers)
        print(f"{len(addresses):,} subscribers imported in {time.perf_counter() - started:.1f} s")
        with FakeSendGrid(latency=LATENCY) as fake:
            fake_started = time.process_time()
            wall, cpu, rss, output = run_send(site, fake)
            fake_cpu = time.process_time() - fake_started
            requests = len(fake.requests_to("/v3/mail/send"))
            deliveries = fake.deliveries()
            times = [accepted.time for accepted in fake.accepted]
    once = set(deliveries) == set(addresses) and set(deliveries.values()) == {1}
    # The batches' own time, without the build before them: first acceptance to last.
    batches = max(times) - min(times) + LATENCY
    figures = {"requests": requests, "wall": wall, "rss_mb": rss, "cpu": cpu, "batches": batches}
    figures["fake_cpu"] = fake_cpu
    return figures, once, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="sends of each kind; medians shown")
    args = parser.parse_args()
    runs = {parallel: [] for parallel in PARALLEL}
    for _ in range(args.repeat):  # the two kinds alternate, so a busy spell hits both
        for parallel in PARALLEL:
            runs[parallel].append(one_send(parallel, args.subscribers))
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    print(f"\n{machine}, {LATENCY * 1000:.0f} ms latency per request, load average {load:.1f}")
    print(f"medians of {args.repeat} sends of each kind")
    medians = {}
    for parallel, sends in runs.items():
        medians[parallel] = {
            name: statistics.median(figures[name] for figures, _, _ in sends)
            for name in sends[0][0]
        }
        figures, once = medians[parallel], all(once for _, once, _ in sends)
        print(f"\nsending.parallel {parallel}: {sends[-1][2].strip()}")
        for name, target in TARGETS.items():
            verdict = "met" if figures[name] <= target else "MISSED"
            print(f"  {name:9} {figures[name]:10.1f}   target <= {target:g}: {verdict}")
        print(f"  cpu       {figures['cpu']:10.1f} s")
        print(f"  fake cpu  {figures['fake_cpu']:10.1f} s (the fake SendGrid's, in this process)")
        print(f"  batches   {figures['batches']:10.1f} s, first acceptance to last")
        print(f"  exactly one message per subscriber, every send: {'yes' if once else 'NO'}")
    print()
    for figure in ("batches", "wall"):
        ratio = medians[PARALLEL[0]][figure] / medians[PARALLEL[-1]][figure]
        verdict = "met" if ratio >= SPEED_UP else "MISSED"
        print(f"side by side, {figure}: {ratio:.1f}x faster (target >= {SPEED_UP:g}x: {verdict})")
    return 0 if all(once for sends in runs.values() for _, once, _ in sends) else 1


if __name__ == "__main__":
    sys.exit(main())
