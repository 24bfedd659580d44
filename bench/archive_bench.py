"""Benchmark `digest archive` on 500 sent issues, in process.

A state database is filled once, through the ledger, with 500 weekly issues: 8 themes of 8 shown
items plus 3 over the cap each (88 items an issue, 44,000 in all), realistic titles, blurbs and
URLs. Each of `--repeat` rounds copies that database and times `build_site`:

- cold: into an empty folder (every file written);
- rebuild: the same state again (every file compared, none written);
- new issue: after one more issue is sent (its page, the index, the feed and its themes written).

It prints each round, then the medians with the files written / unchanged, against the 5 s target
for rebuilding the 500-issue archive.

Run from the repository root: `.venv/bin/python bench/archive_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
from digest.core.models import Issue, IssueItem, IssueTheme  # noqa: E402
from digest.core.settings import Config, EmailSettings, Newsletter, Theme  # noqa: E402
from digest.core.store import Store  # noqa: E402
from digest.curation.curate import slug  # noqa: E402
from digest.delivery.ledger import Ledger  # noqa: E402
from digest.delivery.message import FrozenEmail  # noqa: E402
from digest.publish.archive import SiteReport, build_site  # noqa: E402

ISSUES, THEMES, SHOWN, MORE = 500, 8, 8, 3
FIRST = datetime(2017, 1, 5, 8, tzinfo=UTC)  # a Thursday; one issue a week from here
TARGET = 5.0  # seconds to rebuild the 500-issue archive
BLURB = (
    "Commissioners, clinicians and patient representatives worked together for eighteen months "
    "to agree how the new pathway should run and how progress will be measured."
)


def make_issue(number: int) -> tuple[Issue, datetime]:
    sent = FIRST + timedelta(weeks=number)
    year, week, _ = sent.isocalendar()
    issue_id = f"{year}-W{week:02d}"
    themes = tuple(make_theme(issue_id, t, sent) for t in range(THEMES))
    issue = Issue(
        id=issue_id,
        title="Community Health Weekly",
        built_at=sent,
        window_start=sent - timedelta(days=7),
        window_end=sent,
        intro=f"Issue {number}: what the network did this week, and what partners published.",
        weeknote_title=f"Weeknote {number}",
        weeknote_url=f"https://community.example/weeknotes/{number}",
        themes=themes,
        sources=(),
        warnings=(),
        skipped=(),
    )
    return issue, sent


def make_theme(issue_id: str, t: int, sent: datetime) -> IssueTheme:
    name = f"Theme {t}: community care and health"
    items = []
    for i in range(SHOWN + MORE):
        url = f"https://www.partner-{t}.example.org/news/{issue_id}/{i}/community-pathway?ref=rss"
        items.append(
            IssueItem(
                url=url,
                canonical_url=url,
                title=f"{issue_id} item {t}.{i}: local partners publish a new framework",
                blurb=BLURB,
                source=f"Yorkshire Partner Organisation {t}",
                origin="feed",
                theme=name,
                reason="keyword",
                published=sent - timedelta(days=i % 7, hours=3),
            )
        )
    return IssueTheme(name, slug(name), tuple(items[:SHOWN]), tuple(items[SHOWN:]))


def send(store: Store, number: int) -> None:
    issue, sent = make_issue(number)
    ledger = Ledger(store)
    content = FrozenEmail(f"Weekly {issue.id}", "", "")
    ledger.start(issue, content, [("a@x.org", None)], 1, sent, ("outbox", "outbox"))
    (batch,) = ledger.batches(issue.id)
    ledger.accept(batch, "message", sent)


def make_config(folder: Path) -> Config:
    return Config(
        newsletter=Newsletter(
            title="Community Health Weekly",
            website="https://community.example",
            sender="Community Health <digest@community.example>",
        ),
        themes=(Theme(name="Theme 0"),),
        email=EmailSettings(archive_url="https://digest.community.example"),
        path=folder / "feeds.yaml",
    )


def timed(config: Config, db: Path, folder: Path, now: datetime) -> tuple[float, SiteReport]:
    with Store.open(db) as store:
        started = time.perf_counter()
        report = build_site(config, store, now, folder)
        return time.perf_counter() - started, report


def one_round(base: Path, work: Path, config: Config) -> dict[str, tuple[float, SiteReport]]:
    db, folder = work / "state.db", work / "site"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copy(base, db)
    now = FIRST + timedelta(weeks=ISSUES + 1)
    runs = {"cold": timed(config, db, folder, now), "rebuild": timed(config, db, folder, now)}
    with Store.open(db) as store:
        send(store, ISSUES)
    runs["new issue"] = timed(config, db, folder, now)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        base, config = work / "base.db", make_config(work)
        started = time.perf_counter()
        with Store.open(base) as store:
            for number in range(ISSUES):
                send(store, number)
        print(f"{ISSUES} issues x {THEMES} themes x {SHOWN}+{MORE} items sent into the ledger")
        print(
            f"  in {time.perf_counter() - started:.1f} s, {platform.machine()}, Python "
            f"{platform.python_version()}"
        )
        rounds = []
        for n in range(max(1, args.repeat)):
            runs = one_round(base, work, config)
            rounds.append(runs)
            print(f"round {n + 1}: " + ", ".join(f"{k} {s:.2f} s" for k, (s, _) in runs.items()))
        size = sum(p.stat().st_size for p in (work / "site").rglob("*") if p.is_file())
    print(f"site: {size / 1e6:.1f} MB")
    for kind in rounds[0]:
        seconds = median(runs[kind][0] for runs in rounds)
        report = rounds[-1][kind][1]
        print(
            f"  {kind:<10} median {seconds:5.2f} s   {report.written:4} written, "
            f"{report.unchanged:4} unchanged, {report.removed} removed"
        )
    rebuild = median(runs["rebuild"][0] for runs in rounds)
    verdict = "met" if rebuild < TARGET else "MISSED"
    print(
        f"rebuild of {ISSUES} issues, median: {rebuild:.2f} s (target < {TARGET:.0f} s: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
