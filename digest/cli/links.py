"""`digest links`: a thin command over digest.sources.links. The checker (and httpx) load only when
the command runs, so `digest --help` stays quick."""

from __future__ import annotations

import json

import click

from digest.cli.base import (
    EXIT_PARTIAL,
    config_option,
    db_option,
    issue_option,
    json_option,
    refresh_sources,
    world,
)

refresh_option = click.option(
    "--refresh", is_flag=True, help="Fetch the sources first (default: fetch nothing)."
)
no_cache_option = click.option(
    "--no-cache",
    is_flag=True,
    help="Check every link again, even those found healthy in the last links.cache_hours.",
)


@click.command()
@config_option
@db_option
@issue_option
@json_option
@refresh_option
@no_cache_option
def links(
    config_path: str,
    db_path: str | None,
    issue_id: str | None,
    as_json: bool,
    refresh: bool,
    no_cache: bool,
) -> None:
    """Check every link of this week's issue: ok, redirected, or broken (4xx, 5xx, timeout, no
    connection). The issue is built from the state database, as `digest build --offline` does;
    nothing is sent or marked sent.

    Exit status: 0 no link broken, 3 some links broken, 2 feeds.yaml is broken."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.pipeline import build_issue, unreachable_sources
    from digest.sources.links import check_links, issue_links

    config = load_config(config_path)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=refresh) as store:
        reports = refresh_sources(config, store, now, offline=not refresh)
        issue = build_issue(config, store, now, issue_id)
        results = check_links(issue_links(issue), config, store, now, use_cache=not no_cache)
    failed = sum(report.failed for report in reports)
    offline = unreachable_sources(reports, "run digest links without --refresh")
    if offline:
        click.echo(offline, err=True)
    elif failed:
        sources = "source" if failed == 1 else "sources"
        click.echo(
            f"{failed} {sources} could not be fetched; checked the issue as stored", err=True
        )
    _show(results, config, as_json)
    if any(result.broken for result in results):
        raise SystemExit(EXIT_PARTIAL)


# Healthy links first, broken ones last: on a terminal, what needs fixing stays on the screen.
ORDER = {"ok": 0, "redirected": 1}


def _show(results, config, as_json: bool) -> None:
    from digest.core.output import _plain_table
    from digest.sources.links import no_connection, send_verdict, summarise, summary_line

    if as_json:
        payload = {"links": [r.as_dict() for r in results], "summary": summarise(results)}
        click.echo(json.dumps(payload, indent=2))
        return
    offline = no_connection(results)
    if offline:  # one line, not one identical row per link
        click.echo(offline)
        return
    ordered = sorted(results, key=lambda r: ORDER.get(r.outcome, 2))
    rows = [(r.outcome, str(r.status or "-"), r.url, _detail(r)) for r in ordered]
    _plain_table(rows, ("outcome", "status", "url", "final URL / detail"), right=(1,))
    click.echo(summary_line(results))
    click.echo(send_verdict(results, config))


def _detail(result) -> str:
    parts = [f"→ {result.final_url}" if result.final_url else "", result.detail or ""]
    return "  ".join(part for part in parts if part)
