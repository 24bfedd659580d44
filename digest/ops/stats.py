"""`digest stats`: what SendGrid counted for each sent issue, from the category every message
of an issue carries (digest:LIST:ISSUE, recorded by its send; the bare id for sends before
that; digest.delivery.message).

Rules: statistics are asked for the issues the ledger has as sent through SendGrid (an issue
written to the outbox has none), one request per issue, from its send day to today
(`aggregated_by=day`), never further back than SendGrid keeps them (13 months). Each answer is
stored in `issue_stats` in one transaction per issue, a row per day (upserted), so a failed
request loses nothing stored and `--offline` shows what was fetched last. Opens and clicks are
None when `sending.tracking` has them off: SendGrid counts none then, and 0 would read as "nobody
opened it". Rates: delivered / requests, unique opens / delivered, unique clicks / delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import NamedTuple

from digest.core.errors import DigestError
from digest.core.settings import Tracking
from digest.core.store import Store

OLDEST = timedelta(days=390)  # SendGrid keeps category statistics for 13 months
TREND = 8  # issues in the trend
COUNTS = ("requests", "delivered", "bounces", "blocks", "spam_reports", "unsubscribes")
TRACKED = {"opens": "opens", "unique_opens": "opens", "clicks": "clicks", "unique_clicks": "clicks"}
BARS = "▁▂▃▄▅▆▇█"


class StatsError(DigestError):
    """SendGrid's statistics could not be had; what is stored is untouched."""


@dataclass(frozen=True)
class Figures:
    """SendGrid's counts for one issue, over a day or summed over its days."""

    requests: int = 0
    delivered: int = 0
    bounces: int = 0
    blocks: int = 0
    spam_reports: int = 0
    unsubscribes: int = 0
    opens: int | None = None
    unique_opens: int | None = None
    clicks: int | None = None
    unique_clicks: int | None = None

    def __add__(self, other: Figures) -> Figures:
        def add(a, b):
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Figures(*(add(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))

    @property
    def rates(self) -> dict[str, float | None]:
        return {
            "delivered": _share(self.delivered, self.requests),
            "open": _share(self.unique_opens, self.delivered),
            "click": _share(self.unique_clicks, self.delivered),
        }


def _share(part: int | None, whole: int) -> float | None:
    return None if part is None or not whole else part / whole


@dataclass(frozen=True)
class IssueStats:
    issue: str
    sent_at: str
    days: dict[str, Figures]  # YYYY-MM-DD -> that day's counts
    fetched_at: str | None

    @property
    def total(self) -> Figures:
        total = Figures()
        for figures in self.days.values():
            total += figures
        return total


class SentIssue(NamedTuple):
    id: str
    sent_at: datetime
    category: str  # of its messages: digest:LIST:ISSUE, or the bare id for older sends


def sent_issues(store: Store, issue_id: str | None = None) -> list[SentIssue]:
    """The issues sent through SendGrid, oldest first: the last TREND, or up to and including
    `issue_id`."""
    rows = store.db.execute(
        "SELECT id, sent_at, coalesce(category, id) AS category FROM issues"
        " WHERE status = 'sent' AND coalesce(transport, '')"
        " != 'outbox' AND (? IS NULL OR id <= ?) ORDER BY id DESC LIMIT ?",
        (issue_id, issue_id, TREND),
    ).fetchall()
    if issue_id is not None and (not rows or rows[0]["id"] != issue_id):
        raise StatsError(
            f"issue {issue_id} was not sent through SendGrid",
            "digest status lists the issues sent; the outbox has no statistics",
        )
    return [
        SentIssue(row["id"], datetime.fromisoformat(row["sent_at"]), row["category"])
        for row in reversed(rows)
    ]


def window(sent_at: datetime, today: date) -> tuple[date, date]:
    """From the send day to today, no further back than SendGrid keeps statistics."""
    start = max(sent_at.date(), today - OLDEST)
    return min(start, today), today


def fetch(api, issue: SentIssue, today: date, tracking: Tracking) -> dict:
    """SendGrid's daily counts for the issue's category, as {day: Figures}."""
    start, end = window(issue.sent_at, today)
    params = {
        "categories": issue.category,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "aggregated_by": "day",
    }
    try:
        body = api.get_json("categories/stats", params)
    except DigestError as exc:  # refused, busy, out of reach, or no readable answer
        raise StatsError(exc.message, f"{exc.hint}; {_KEPT}") from None
    return parse(body, issue.category, tracking)


_KEPT = "what was stored before is kept (digest stats --offline shows it)"


def parse(body: object, category: str, tracking: Tracking) -> dict[str, Figures]:
    """The days of a /v3/categories/stats answer: [{date, stats: [{name, metrics}]}]."""
    if not isinstance(body, list):
        raise StatsError(f"SendGrid's statistics for {category} are not a list", _KEPT)
    days = {}
    for entry in body:
        day = entry.get("date") if isinstance(entry, dict) else None
        stats = entry.get("stats") if isinstance(entry, dict) else None
        if not isinstance(day, str) or not isinstance(stats, list):
            raise StatsError(f"SendGrid's statistics for {category} have an entry without a date")
        for stat in stats:
            if isinstance(stat, dict) and stat.get("name") == category:
                days[day] = _figures(stat.get("metrics"), tracking)
    return days


def _figures(metrics: object, tracking: Tracking) -> Figures:
    metrics = metrics if isinstance(metrics, dict) else {}

    def count(name: str) -> int | None:
        if name in TRACKED and not getattr(tracking, TRACKED[name]):
            return None
        value = metrics.get(name, 0)
        return value if isinstance(value, int) and value >= 0 else 0

    return Figures(**{f.name: count(f.name) for f in fields(Figures)})


def save(store: Store, issue_id: str, days: dict[str, Figures], now: datetime) -> None:
    """Upsert the issue's days in one transaction; days not in `days` stay as they were."""
    names = [f.name for f in fields(Figures)]
    columns = ", ".join(names)
    updates = ", ".join(f"{name} = excluded.{name}" for name in [*names, "fetched_at"])
    with store.transaction() as db:
        db.executemany(
            f"INSERT INTO issue_stats (issue, day, {columns}, fetched_at)"
            f" VALUES (?, ?, {', '.join('?' * len(names))}, ?)"
            f" ON CONFLICT (issue, day) DO UPDATE SET {updates}",
            [
                (issue_id, day, *(getattr(figures, name) for name in names), now.isoformat())
                for day, figures in days.items()
            ],
        )


def refresh(api, store: Store, issues, tracking: Tracking, now: datetime) -> None:
    """Fetch and store each issue's statistics; the first failure stops, keeping the rest."""
    for issue in issues:
        save(store, issue.id, fetch(api, issue, now.date(), tracking), now)


def load(store: Store, issues) -> list[IssueStats]:
    """What is stored for `issues` ((id, sent at), oldest first)."""
    result = []
    for issue_id, sent_at, _ in issues:
        rows = store.db.execute(
            "SELECT * FROM issue_stats WHERE issue = ? ORDER BY day", (issue_id,)
        ).fetchall()
        days = {row["day"]: Figures(*(row[f.name] for f in fields(Figures))) for row in rows}
        fetched = max((row["fetched_at"] for row in rows), default=None)
        result.append(IssueStats(issue_id, sent_at.isoformat(), days, fetched))
    return result


def to_json(stats: list[IssueStats]) -> str:
    issues = [
        {
            "issue": s.issue,
            "sent_at": s.sent_at,
            "fetched_at": s.fetched_at,
            "total": vars(s.total),
            "rates": s.total.rates,
            "days": {day: vars(figures) for day, figures in s.days.items()},
        }
        for s in stats
    ]
    return json.dumps({"issues": issues}, indent=2)


HEADINGS = ("issue", "sent", "requests", "delivered", "bounces", "blocks", "spam", "unsubs")
HEADINGS += ("opens", "unique", "clicks", "unique", "deliv %", "open %", "click %")


def table(stats: list[IssueStats], terminal: bool) -> list[str]:
    """A row of totals and rates per issue, then the trend of the rates across them: a
    sparkline on a terminal, the figures when piped."""
    rows = [HEADINGS] + [_row(s) for s in stats]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines += [
        f"never fetched: {s.issue} (run digest stats without --offline)"
        for s in stats
        if s.fetched_at is None
    ]
    if len(stats) > 1:
        lines.append(f"trend, oldest to newest ({len(stats)} issues):")
        for label in ("delivered", "open", "click"):
            values = [s.total.rates[label] for s in stats]
            shown = sparkline(values) if terminal else " ".join(_percent(v) for v in values)
            lines.append(f"  {label + ' %':<11} {shown}")
    return lines


def _row(stats: IssueStats) -> tuple[str, ...]:
    total = stats.total
    counts = [total.requests, total.delivered, total.bounces, total.blocks]
    counts += [total.spam_reports, total.unsubscribes]
    counts += [total.opens, total.unique_opens, total.clicks, total.unique_clicks]
    rates = total.rates
    return (
        stats.issue,
        stats.sent_at[:10],
        *(_count(value) for value in counts),
        *(_percent(rates[label]) for label in ("delivered", "open", "click")),
    )


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def sparkline(values: list[float | None]) -> str:
    """One bar per value, scaled between the smallest and largest; a gap where there is none."""
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    low, high = min(known), max(known)
    span = high - low or 1.0
    bars = [" " if v is None else BARS[round((v - low) / span * (len(BARS) - 1))] for v in values]
    return "".join(bars) + f"  {_percent(known[0])} → {_percent(known[-1])}"
