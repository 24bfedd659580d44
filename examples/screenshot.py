"""Screenshots of the offline example's email, as a reader would see it, with headless Chromium:
a phone (375 px wide) and the email's own width (600 px), each in light and dark mode. Run from
the repository root after changing the templates, and look at the pictures:

    .venv/bin/python examples/screenshot.py            # writes examples/screenshots/*.png
    .venv/bin/python examples/screenshot.py --out /tmp/shots

The example's feeds and weeknote are local files, so nothing goes on the network; the state is
a temporary database, so examples/demo/demo.db is not touched. Chromium comes from the Debian
package `chromium` (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.core.config import load_config  # noqa: E402
from digest.core.store import Store  # noqa: E402
from digest.email.render import render_email, template_folders  # noqa: E402
from digest.pipeline import build_issue, fetch_sources  # noqa: E402

CONFIG = ROOT / "examples" / "demo" / "feeds.yaml"
# The example's feeds are dated November 2026: its issue is built as of that week.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# (file name, window width, window height, extra Chromium flags)
SHOTS = (
    ("email-375.png", 375, 2600, ()),
    ("email-375-dark.png", 375, 2600, ("--force-dark-mode",)),
    ("email-600.png", 600, 2200, ()),
    ("email-600-dark.png", 600, 2200, ("--force-dark-mode",)),
)


def example_email(folder: Path) -> Path:
    """The example's issue rendered into `folder`/issue.html, from a fresh temporary state."""
    config = load_config(CONFIG)
    with Store.open(folder / "state.db") as store:
        fetch_sources(config, store, NOW)
        issue = build_issue(config, store, NOW)
    email = render_email(issue, config, template_folders(config))
    moved = sum(email.moved.values())
    print(f"subject: {email.subject}\nHTML: {email.size:,} bytes as sent, {moved} items moved")
    page = folder / "issue.html"
    page.write_text(email.html, encoding="utf-8")
    return page


def screenshot(chromium: str, page: Path, out: Path, width: int, height: int, flags) -> None:
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # root in a container has no sandbox to give
            "--disable-gpu",
            "--hide-scrollbars",
            *flags,
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    print(f"wrote {out} ({width}x{height})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "screenshots")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        page = example_email(Path(scratch))
        for name, width, height, flags in SHOTS:
            screenshot(chromium, page, args.out / name, width, height, flags)
    return 0


if __name__ == "__main__":
    sys.exit(main())
