"""`digest approve`: freeze this week's issue as the editor saw it, so that the send sends
exactly that copy; `--revoke` takes the approval back."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.base import config_option, db_option, for_run, issue_option, world


@click.command()
@config_option
@db_option
@issue_option
@click.option(
    "--templates",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of edited templates (default: email.templates, else the built-in ones).",
)
@click.option("--by", help="Who approves (default: your user name on this machine).")
@click.option("--revoke", is_flag=True, help="Take the approval back (before the send starts).")
def approve(
    config_path: str,
    db_path: str | None,
    issue_id: str | None,
    templates: Path | None,
    by: str | None,
    revoke: bool,
) -> None:
    """Approve this week's issue as it renders now from the state database, as digest preview
    shows it (nothing is fetched): digest send then sends this very copy, byte for byte,
    however the feeds change. With sending.approval: required, nothing goes out unapproved.

    Exit status: 0 approved (or revoked), 1 refused (the send has started, or the week was
    sent), 2 a template or feeds.yaml is broken."""
    import getpass

    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import curate
    from digest.delivery.approval import Approvals
    from digest.publish.preview import approve_issue

    config = for_run(load_config(config_path), offline=True, no_enrich=False)
    now = world().now()
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    with Store.open(db_path or config.db_path(), create=False) as store:
        approvals = Approvals(store)
        if revoke:
            had = approvals.revoke(issue_id)
            click.echo(
                f"revoked the approval of issue {issue_id}"
                if had
                else f"issue {issue_id} was not approved"
            )
            return
        approval, preview = approve_issue(
            config, store, now, issue_id, templates, by or getpass.getuser()
        )
        issue, email = preview.issue, preview.email
    for warning in (*issue.warnings, *email.warnings):
        click.echo(f"warning: {warning}")
    shown = issue.counts()["shown"]
    click.echo(
        f"approved issue {issue_id}: {approval.subject!r}, {shown} items, sha256 "
        f"{approval.hash[:12]}; digest send sends exactly this copy"
    )
