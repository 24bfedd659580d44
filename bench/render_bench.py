"""Benchmark rendering a 60-item issue into the email, in process.

The issue and config are tests/test_render.py's (6 themes x 10 items, long titles, blurbs and
URLs). A render is what `digest preview` and `digest send` pay per email: the template checks,
Jinja2 writing MJML and plain text, mjml-python compiling the MJML and the HTML safety check.

The first render is timed on its own (cold: Jinja2 compiles the templates, mjml-python warms
up); then, after one more untimed render, `--repeat` warm renders give the median and p90.

Then the sizes Gmail sees (digest.email.size): the 60-item issue's HTML part as sent
(quoted-printable) with and without click tracking; and issue 23's week of 168 candidates in 8
themes with click and open tracking on, fitted with an archive (email.size_budget, 60,000) and
without one, each also encoded independently by Python's email package after every link was
rewritten as click tracking would (tests/test_render.py's as_gmail_gets_it).

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
from digest.core.settings import Tracking  # noqa: E402
from digest.email.render import default_templates, render_email  # noqa: E402
from digest.email.size import sent_size  # noqa: E402
from tests.test_render import (  # noqa: E402
    ARCHIVE,
    GMAIL_CLIP,
    as_gmail_gets_it,
    big_week,
    make_config,
    make_issue,
    tracked_config,
)

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
    sent, tracked = sent_size(email.html, Tracking()), sent_size(email.html, Tracking(clicks=True))
    print(f"  as Gmail gets it     {sent:7,} bytes ({tracked:,} with click tracking)")
    verdict = "met" if warm < TARGET else "MISSED"
    print(f"warm render, median: {warm:.1f} ms (target < {TARGET:.0f} ms: {verdict})")
    big_weeks(folders)
    return 0


def big_weeks(folders) -> None:
    """Issue 23's week of 168 candidates, click and open tracking on, with and without an
    archive: what shows, and the HTML part's size as sent against Gmail's clip."""
    print("\n168 candidates in 8 themes, click and open tracking on")
    for archive in (ARCHIVE, None):
        email = render_email(big_week(), tracked_config(archive_url=archive), folders)
        wire = len(as_gmail_gets_it(email.html))
        moved = sum(email.moved.values())
        verdict = "met" if max(wire, email.size) < GMAIL_CLIP else "MISSED"
        print(
            f"  {'with' if archive else 'without'} an archive: {168 - moved} shown, {moved} moved; "
            f"{email.size:,} bytes as sent (encoded {wire:,}; target < {GMAIL_CLIP:,}: {verdict})"
        )


if __name__ == "__main__":
    sys.exit(main())
