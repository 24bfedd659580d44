"""How commands show their results: a rich table on a terminal, plain lines otherwise, or JSON."""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import click

from digest.core.models import Issue, IssueTheme, SourceReport

COLUMNS = ("source", "status", "items", "new", "time", "error / note")
STATUS_STYLE = {
    "new": "green",
    "unchanged": "dim",
    "moved": "yellow",
    "gone": "magenta",
    "error": "bold red",
}


def is_terminal() -> bool:
    return sys.stdout.isatty()


@contextmanager
def progress(total: int, label: str):
    """A progress bar on stderr when it is a terminal (so it never mixes with --json on stdout);
    nothing otherwise. Yields a function to call once per step."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda *_: bar.advance(task)


def fetch_summary(reports: list[SourceReport]) -> dict:
    statuses = Counter(report.status for report in reports)
    return {
        "sources": len(reports),
        **{s: statuses[s] for s in STATUS_STYLE},
        "items": sum(r.items for r in reports),
        "new_items": sum(r.new_items for r in reports),
    }


def show_fetch(reports: list[SourceReport], as_json: bool) -> None:
    summary = fetch_summary(reports)
    if as_json:
        click.echo(
            json.dumps({"sources": [r.as_dict() for r in reports], "summary": summary}, indent=2)
        )
        return
    rows = [_row(report) for report in reports]
    if is_terminal():
        _rich_table(rows, reports)
    else:
        _plain_table(rows)
    counts = ", ".join(f"{summary[s]} {s}" for s in STATUS_STYLE if summary[s])
    click.echo(
        f"{summary['sources']} sources: {counts or 'none'}; {summary['new_items']} new items"
    )


def _row(report: SourceReport) -> tuple[str, ...]:
    detail = report.error or report.note or ""
    return (
        report.name,
        report.status,
        str(report.items),
        str(report.new_items),
        f"{report.seconds:.2f}s",
        detail,
    )


def _plain_table(
    rows: list[tuple[str, ...]], columns: tuple[str, ...] = COLUMNS, right=(2, 3, 4)
) -> None:
    """Aligned plain columns; the last one is free text and is not padded."""
    widths = [max(len(row[i]) for row in [columns, *rows]) for i in range(len(columns) - 1)]
    for row in [columns, *rows]:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def _rich_table(rows: list[tuple[str, ...]], reports: list[SourceReport]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*COLUMNS)
    for column in table.columns[2:5]:
        column.justify = "right"
    for row, report in zip(rows, reports, strict=True):
        cells = [Text(cell) for cell in row]
        cells[1].stylize(STATUS_STYLE[report.status])
        table.add_row(*cells)
    Console().print(table)


ISSUE_COLUMNS = ("theme", "shown", "more", "weeknote", "feeds")


def show_issue(issue: Issue, path: Path, as_json: bool, explain: bool) -> None:
    """The built issue: its themes with counts, then what needs the editor's attention."""
    if as_json:
        click.echo(issue.to_json())
        return
    _themes_table(issue)
    counts = issue.counts()
    click.echo(
        f"{issue.id}: {counts['shown']} items in {counts['themes']} themes "
        f"(+{counts['more']} over the cap); skipped {counts['already_sent']} already sent, "
        f"{counts['duplicate']} duplicates, {counts['dropped']} dropped; written to {path}"
    )
    for source in issue.sources:
        if source.status in ("error", "never", "gone") or source.stale:
            click.echo(f"source {source.name}: {source.status}; {source.error or 'stale'}")
    _warnings(issue)
    if explain:
        _explain(issue)


def show_preview(preview, paths: dict[str, Path]) -> None:
    """The rendered email: subject, the files written, the themes and every source's health."""
    issue, email = preview.issue, preview.email
    click.echo(f"Subject:   {email.subject}")
    click.echo(f"Preheader: {email.preheader}")
    size = len(email.html.encode())
    sent = f"; {email.size / 1000:.1f} KB as Gmail gets it" if email.size else ""
    click.echo(f"HTML:      {paths['html']} ({size / 1000:.1f} KB{sent})")
    for kind in ("txt", "mjml", "json"):
        click.echo(f"{kind.upper() + ':':<10} {paths[kind]}")
    _themes_table(issue)
    rows = [_health_row(source) for source in issue.sources]
    columns = ("source", "last fetch", "last good fetch", "")
    _plain_table([(*row[:3], row[3]) for row in rows], columns, right=())
    _warnings(issue)
    for warning in email.warnings:
        click.echo(f"warning: {warning}")


def _health_row(source) -> tuple[str, ...]:
    detail = source.error or ("stale: no good fetch in the last day" if source.stale else "")
    return (source.name, source.status, source.last_ok or "never", detail)


def _themes_table(issue: Issue) -> None:
    rows = [_theme_row(theme) for theme in issue.themes]
    if is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table(*ISSUE_COLUMNS, title=f"{issue.title} {issue.id}")
        for column in table.columns[1:]:
            column.justify = "right"
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        _plain_table([(*row, "") for row in rows], (*ISSUE_COLUMNS, ""), right=(1, 2, 3, 4))


def _warnings(issue: Issue) -> None:
    for warning in issue.warnings:
        click.echo(f"warning: {warning}")


def _explain(issue: Issue) -> None:
    """Every candidate's fate: outcome, title and URL; then the reason, and for a weeknote link
    (or a feed item without a summary) what enrichment took from its page."""
    lines = []
    for theme in issue.themes:
        lines += [("shown", item, f"{item.theme}: {item.reason}") for item in theme.items]
        cap = f"{theme.name}: over the cap, counted as 'more'"
        lines += [("more", item, cap) for item in theme.more]
    lines += [(decision.outcome, decision, decision.reason) for decision in issue.skipped]
    for outcome, entry, reason in lines:
        click.echo(f"{outcome:>12}  {entry.title[:60]}  <{entry.url}>")
        # An item's reason may carry a line about enrichment: what it took from the page, or
        # why the page could not be read.
        for line in reason.splitlines():
            click.echo(f"{'':>12}  {line}")


def _theme_row(theme: IssueTheme) -> tuple[str, ...]:
    items = (*theme.items, *theme.more)
    weeknote = sum(item.origin == "weeknote" for item in items)
    return (
        f"{theme.emoji} {theme.name}" if theme.emoji else theme.name,
        str(len(theme.items)),
        str(len(theme.more)),
        str(weeknote),
        str(len(items) - weeknote),
    )


def show_status(sends: list, approvals: dict, holds: dict, draft: str, as_json: bool) -> None:
    """Each issue: sent, sending or cancelled (the ledger's, with batches and message ids),
    approved (by whom, when, the hash of what a send sends), held (why), or this week's
    `draft`, which nothing has approved or held yet."""
    sent = {record.id for record in sends}
    waiting = sorted((set(approvals) | set(holds) | {draft}) - sent, reverse=True)
    if as_json:
        data = [_ledger_json(record, approvals.get(record.id)) for record in sends]
        data += [_waiting_json(i, approvals.get(i), holds.get(i)) for i in waiting]
        click.echo(json.dumps(sorted(data, key=lambda e: e["issue"], reverse=True), indent=2))
        return
    table = [_waiting_row(i, approvals.get(i), holds.get(i)) for i in waiting]
    for record in sends:
        batches = record.batches
        accepted = sum(b.status == "accepted" for b in batches)
        ids = ", ".join(b.message_id for b in batches if b.message_id)
        when = record.send_at or record.sent_at or record.started_at or ""
        table.append(
            (
                record.id,
                record.status,
                when,
                f"{accepted}/{len(batches)}",
                str(sum(b.recipients for b in batches)),
                str(sum(len(b.rejected) for b in batches)),
                record.transport or "unrecorded",  # sends from before digest recorded it
                ids[:60] + ("…" if len(ids) > 60 else ""),
            )
        )
    table.sort(key=lambda row: row[0], reverse=True)
    columns = (
        "issue",
        "status",
        "when",
        "batches",
        "recipients",
        "rejected",
        "transport",
        "message ids / approval",
    )
    _plain_table(table, columns, right=(3, 4, 5))


def _ledger_json(record, approval) -> dict:
    return {
        "issue": record.id,
        "status": record.status,
        "subject": record.subject,
        "started_at": record.started_at,
        "sent_at": record.sent_at,
        "send_at": record.send_at,
        "transport": record.transport,
        "destination": record.destination,
        "approval": _approval_json(approval),
        "batches": [
            {k: getattr(b, k) for k in ("number", "status", "message_id", "attempts")}
            | {"recipients": b.recipients, "last_error": b.last_error}
            | {"rejected": [{"email": e, "reason": why} for e, why in b.rejected]}
            for b in record.batches
        ],
    }


def _waiting_json(issue_id: str, approval, hold) -> dict:
    status = "approved" if approval else "held" if hold else "draft"
    held = {"reason": hold[0], "at": hold[1]} if hold and not approval else None
    subject = approval.subject if approval else None
    entry = {"issue": issue_id, "status": status, "subject": subject, "held": held}
    return entry | {"approval": _approval_json(approval)}


def _approval_json(approval) -> dict | None:
    if approval is None:
        return None
    return {"by": approval.approved_by, "at": approval.approved_at, "hash": approval.hash}


def _waiting_row(issue_id: str, approval, hold) -> tuple[str, ...]:
    if approval:
        detail = f"approved by {approval.approved_by}, sha256 {approval.hash[:12]}"
        return (issue_id, "approved", approval.approved_at, "", "", "", "", detail)
    if hold:
        return (issue_id, "held", hold[1], "", "", "", "", hold[0][:60])
    return (issue_id, "draft", "", "", "", "", "", "not approved yet")
