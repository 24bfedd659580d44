"""`digest doctor`: a thin command over digest.ops.doctor."""

from __future__ import annotations

import json

import click

from digest.cli.base import EXIT_FAILED, config_option, db_option, json_option, world


@click.command()
@config_option
@db_option
@json_option
def doctor(config_path: str, db_path: str | None, as_json: bool) -> None:
    """Check that everything a send needs is in place: feeds.yaml, the state database, the
    footer's settings, the SendGrid key and account, every feed, the weeknote and a recent
    run. Changes nothing: the sources are fetched into memory, not into the state.

    Exit status: 0 ready to send, 1 not (each failing line says what to do)."""
    from digest.core import output
    from digest.ops import checklist
    from digest.ops.doctor import diagnose

    checks = diagnose(config_path, db_path, world().now())
    if as_json:
        click.echo(json.dumps(checklist.as_json(checks), indent=2, ensure_ascii=False))
    else:
        for line in checklist.lines(checks, unicode=output.is_terminal()):
            click.echo(line)
    if not checklist.ready(checks):
        raise SystemExit(EXIT_FAILED)
