"""`digest stats`: a thin command over digest.ops.stats."""

from __future__ import annotations

import click

from digest.cli.base import config_option, db_option, json_option, valid_issue_id, world


@click.command()
@config_option
@db_option
@json_option
@click.option("--offline", is_flag=True, help="Show what is stored; ask SendGrid nothing.")
@click.argument("issue_id", metavar="[ISSUE]", required=False, callback=valid_issue_id)
def stats(
    config_path: str, db_path: str | None, as_json: bool, offline: bool, issue_id: str | None
) -> None:
    """SendGrid's statistics of the sent issues (the last 8, or ISSUE): requests, delivered,
    bounces, blocks, spam reports, unsubscribes, and opens and clicks when sending.tracking
    has them on; rates, and the trend across the issues. Stored in the state database.

    Exit status: 0 shown, 1 SendGrid's statistics could not be had (nothing stored is lost)."""
    from digest.core import output
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.delivery.connect import sendgrid_transport
    from digest.ops import stats as core

    config = load_config(config_path)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=False) as store:
        issues = core.sent_issues(store, issue_id)
        if not offline and issues:
            api = sendgrid_transport(config, world().now)
            fresh = issues if issue_id is None else issues[-1:]
            core.refresh(api, store, fresh, config.sending.tracking, now)
        shown = core.load(store, issues)
    if as_json:
        click.echo(core.to_json(shown))
    elif not shown:
        click.echo("no issue has been sent through SendGrid yet")
    else:
        for line in core.table(shown, terminal=output.is_terminal()):
            click.echo(line)
