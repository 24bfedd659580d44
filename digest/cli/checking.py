"""`digest check` and `digest fetch`: validate feeds.yaml, and fetch the sources."""

from __future__ import annotations

import click

from digest.cli.base import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    config_option,
    db_option,
    json_option,
    say_no_network,
    world,
)


@click.command()
@config_option
def check(config_path: str) -> None:
    """Validate feeds.yaml, then the overrides file, and report every problem at once.

    Exit status: 0 valid, 2 a problem in either file."""
    from digest.core.config import config_warnings, load_config
    from digest.curation import curate
    from digest.curation.overrides import load_overrides

    config = load_config(config_path)
    overrides = config.overrides_path()
    # Every week's entry is checked, whichever issue it reads for.
    load_overrides(overrides, curate.issue_id(world().now(), config.newsletter.timezone), config)
    enabled = sum(feed.enabled for feed in config.feeds)
    weeknote = config.weeknote
    source = "none" if weeknote is None else (weeknote.url or f"announced in {weeknote.feed}")
    click.echo(
        f"{config_path} is valid: {len(config.themes)} themes, {len(config.feeds)} feeds "
        f"({enabled} enabled), weeknote: {source}"
    )
    if overrides.exists():
        click.echo(f"{overrides} is valid")
    for warning in config_warnings(config):
        click.echo(f"warning: {warning}")


@click.command()
@config_option
@db_option
@json_option
def fetch(config_path: str, db_path: str | None, as_json: bool) -> None:
    """Fetch every enabled feed and the weeknote into the state database; report each source.

    Exit status: 0 all sources fine, 3 some failed, 1 all failed."""
    from digest.core import output
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.pipeline import fetch_sources, source_count

    config = load_config(config_path)
    now = world().now()
    with (
        Store.open(db_path or config.db_path()) as store,
        output.progress(source_count(config), "Fetching sources") as advance,
    ):
        reports = fetch_sources(config, store, now, on_report=advance)
    output.show_fetch(reports, as_json)
    say_no_network(reports, "build from what the state holds with `digest build --offline`")
    failed = sum(report.failed for report in reports)
    if failed:
        raise SystemExit(EXIT_FAILED if failed == len(reports) else EXIT_PARTIAL)
