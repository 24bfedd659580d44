"""Benchmark theme learning on real link newsletters: digest against the standard baselines.

Two newsletters whose editors file every link under a section, read from clones (--repo; the
default is where this project's tool library mirrors each) with git; nothing of them is kept in
this repository, and what digest reads is written into a temporary folder:

- Emacs News (`--newsletter emacs-news`, the default): "Org Mode", "Emacs Lisp", "Community",
  "Fun", ...; its issues are the history of `most-recent.org` in sachac/emacs-news. A link's
  own text is its title (the discussion links after it are left out: they are the same story).
- R Weekly (`--newsletter rweekly`): "Insights", "Tutorials", "New Packages", "Videos and
  Podcasts", ...; each issue is a Markdown post in rweekly/rweekly.org. A link filed twice in one
  issue keeps its last section: "Highlight" repeats links the editors also file by subject.

Each of the newest --issues issues (40) becomes a weeknote page: a heading per section, a list
item per link. The sections found in at least half of those issues are the themes of a
feeds.yaml, with no aliases or keywords: digest knows only their names. Then, in process, through
the command line:

- `digest themes learn` on every page, oldest first (timed);
- `digest themes evaluate --baseline --last 10`: the classifier learns from the issues before the
  newest 10 and themes the newest 10's links from their title and URL alone, as feed items;
  scikit-learn's TF-IDF + logistic regression and TF-IDF + linear SVM learn and are tested on
  the same links (timed; needs `pip install -e '.[eval]'`).

Run from the repository root:
`.venv/bin/python bench/newsletter_bench.py [--newsletter NAME] [--issues N] [--last N]`.
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent.parent))

from digest.cli import main

MIRRORS = Path("/work/.mirror")
FILE = "most-recent.org"
_TITLE = re.compile(r"^#\+title: (\d{4}-\d\d-\d\d) Emacs news", re.M | re.I)
_SECTION = re.compile(r"^- ([^\[\n]+?)(?: \(.*\))?:\s*$")
_ITEM = re.compile(r"^\s{2,}- \[\[([^\]]+)\]\[([^\]]+)\]\]")

Issue = tuple[str, list[tuple[str, str, str]]]  # (date, [(section, title, url)])


def git(repo: Path, *args: str) -> str:
    run = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"git {' '.join(args)} failed in {repo}: {run.stderr.strip()}")
    return run.stdout


def emacs_news(repo: Path, count: int) -> list[Issue]:
    """The newest `count` issues, oldest first; of an issue committed several times, the last."""
    found: dict[str, str] = {}
    for commit in git(repo, "log", "--format=%H", "--", FILE).split():
        text = git(repo, "show", f"{commit}:{FILE}")
        dated = _TITLE.search(text)
        if dated and dated[1] not in found:
            found[dated[1]] = text
        if len(found) == count:
            break
    return [(date, links(found[date])) for date in sorted(found)]


def links(text: str) -> list[tuple[str, str, str]]:
    """(section, title, url) of every list item that starts with a link, under a top-level
    "- Section:" line."""
    found, section = [], None
    for line in text.splitlines():
        if line.startswith("- "):
            heading = _SECTION.match(line)
            section = heading[1].strip() if heading else None
            continue
        item = _ITEM.match(line)
        if section and item:
            found.append((section, item[2], item[1]))
    return found


_POST = re.compile(r"_posts/(\d{4}-\d\d-\d\d)-\d{4}-W\d\d\.md")
_HEADING = re.compile(r"^### (.+?)\s*$")
_LINK = re.compile(r"^\s*(?:[+*-]\s+)?\[([^\]]+)\]\((https?://[^)\s]+)\)")


def rweekly(repo: Path, count: int) -> list[Issue]:
    """The newest `count` weekly posts of R Weekly, oldest first."""
    names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "_posts/").split()
    newest = sorted(name for name in names if _POST.match(name))[-count:]
    return [
        (_POST.match(name)[1], markdown_links(git(repo, "show", f"HEAD:{name}"))) for name in newest
    ]


def markdown_links(text: str) -> list[tuple[str, str, str]]:
    """(section, title, url) of every line that starts with a link (a list item or not), under
    a "### Section" heading; a URL filed twice keeps its last section."""
    found: dict[str, tuple[str, str, str]] = {}
    section = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            section = heading[1]
            continue
        link = _LINK.match(line)
        if section and link:
            found.pop(link[2], None)
            found[link[2]] = (section, link[1], link[2])
    return list(found.values())


NEWSLETTERS = {  # name: (reader, mirror folder of the repository)
    "emacs-news": (emacs_news, "sachac+emacs-news"),
    "rweekly": (rweekly, "rweekly+rweekly.org"),
}


def page(date: str, items: list[tuple[str, str, str]]) -> str:
    """An issue as a weeknote page: the editor's sections as headings, a link per item."""
    parts = [f"<html><body><article><h1>{date} issue</h1>"]
    parts.append("<p>The week's links, filed by section, as the editor filed them.</p>")
    sections: dict[str, list[tuple[str, str]]] = {}
    for section, title, url in items:
        sections.setdefault(section, []).append((title, url))
    for section, entries in sections.items():
        parts.append(f"<h2>{html.escape(section)}</h2><ul>")
        parts += [
            f'<li><a href="{html.escape(url)}">{html.escape(title)}</a></li>'
            for title, url in entries
        ]
        parts.append("</ul>")
    return "".join(parts) + "</article></body></html>"


def config(themes: list[str]) -> str:
    names = "".join(f"  - name: {name!r}\n" for name in themes)
    return (
        "newsletter:\n  title: Bench\n  website: https://bench.example\n"
        "  sender: Bench <bench@bench.example>\n"
        f"themes:\n{names}"
        "sending:\n  transport: outbox\n"
    )


def invoke(*args: str) -> tuple[str, float]:
    start = time.perf_counter()
    result = CliRunner().invoke(main, list(args))
    if result.exit_code not in (0, 3):
        raise SystemExit(f"digest {' '.join(args)} exited {result.exit_code}:\n{result.output}")
    return result.output, time.perf_counter() - start


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newsletter", choices=NEWSLETTERS, default="emacs-news")
    parser.add_argument("--repo", type=Path, help="a clone of its repository")
    parser.add_argument("--issues", type=int, default=40, help="newest issues to use (40)")
    parser.add_argument("--last", type=int, default=10, help="newest issues held out (10)")
    args = parser.parse_args()
    reader, mirror = NEWSLETTERS[args.newsletter]
    repo = args.repo or MIRRORS / mirror / "repo"
    if not (repo / "HEAD").exists() and not (repo / ".git").exists():
        print(f"no clone of {args.newsletter} at {repo} (--repo PATH)", file=sys.stderr)
        return 2
    found = reader(repo, args.issues)
    # Each issue's sections in page order, so themes found equally often keep one order.
    present = Counter(s for _, items in found for s in dict.fromkeys(s for s, _, _ in items))
    themes = [section for section, n in present.most_common() if n >= len(found) / 2]
    kept = sum(s in themes for _, items in found for s, _, _ in items)
    print(
        f"{args.newsletter} {found[0][0]} to {found[-1][0]}: {len(found)} issues, {kept} links in "
        f"{len(themes)} sections found in at least half of them (the themes)"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "feeds.yaml").write_text(config(themes), encoding="utf-8")
        pages = []
        for date, items in found:
            path = root / f"{date}.html"
            path.write_text(page(date, items), encoding="utf-8")
            pages.append(str(path))
        setting = ["-c", str(root / "feeds.yaml"), "--db", str(root / "state.db")]
        learnt, learn_time = invoke("themes", "learn", *pages, *setting)
        print(learnt.splitlines()[-1], f"(learn: {learn_time:.2f} s)")
        report, evaluate_time = invoke(
            "themes", "evaluate", "--baseline", "--last", str(args.last), *setting
        )
    print(report)
    print(f"evaluate with the baselines: {evaluate_time:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
