"""Benchmark rendering a 60-item issue into the email, in process.

The issue and config are tests/test_render.py's (6 themes x 10 items, long titles, blurbs and
URLs). A render is what `digest preview` and `digest send` pay per email: the template checks,
Jinja2 writing MJML and plain text, mjml-python compiling the MJML and the HTML safety check.

The first render is timed on its own (cold: Jinja2 compiles the templates, mjml-python warms
up); then, after one more untimed render, `--repeat` warm renders give the median and p90.

Run from the repository root: `.venv/bin/python bench/render_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from statistics import median, quantiles

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
from digest.email.render import default_templates, render_email  # noqa: E402
from tests.test_render import GMAIL_CLIP, make_config, make_issue  # noqa: E402

TARGET = 30.0  # ms, median of a warm render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timed warm renders (default 50)")
    args = parser.parse_args()
    issue, config, folders = make_issue(), make_config(), [default_templates()]
    shown = sum(len(theme.items) for theme in issue.themes)

    started = time.perf_counter()
    email = render_email(issue, config, folders)
    cold = (time.perf_counter() - started) * 1000
    render_email(issue, config, folders)  # untimed: the first warm render still settles caches

    times = []
    for _ in range(max(2, args.repeat)):
        started = time.perf_counter()
        render_email(issue, config, folders)
        times.append((time.perf_counter() - started) * 1000)
    warm, p90 = median(times), quantiles(times, n=10)[-1]
    size = len(email.html.encode("utf-8"))

    print(f"{len(issue.themes)} themes x {shown // len(issue.themes)} items ({shown} shown)")
    print(f"{len(times)} warm renders on {platform.machine()}, Python {platform.python_version()}")
    print(f"  cold (first) render  {cold:7.1f} ms")
    print(f"  warm median          {warm:7.1f} ms")
    print(f"  warm p90             {p90:7.1f} ms")
    print(f"  HTML                 {size:7,} bytes ({size / GMAIL_CLIP:.0%} of Gmail's clip)")
    print(f"  text                 {len(email.text.encode('utf-8')):7,} bytes")
    verdict = "met" if warm < TARGET else "MISSED"
    print(f"warm render, median: {warm:.1f} ms (target < {TARGET:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
