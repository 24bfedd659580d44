"""How commands show their results: a rich table on a terminal, plain lines otherwise, or JSON."""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import contextmanager

import click

from digest.models import SourceReport

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


def _plain_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *rows]:
        cells = [
            cell.rjust(w) if i in (2, 3, 4) else cell.ljust(w)
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
