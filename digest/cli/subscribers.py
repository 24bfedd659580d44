"""`digest subscribers …`: thin commands over digest.delivery.subscribers."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime

import click

from digest.cli.base import EXIT_PARTIAL, config_option, db_option, json_option, world
from digest.delivery.subscribers import STATUSES, Subscribers, normalise_email


@click.group()
def subscribers() -> None:
    """Add, remove, list, import and export the addresses the digest goes to.

    Removing marks an address unsubscribed rather than deleting it, so a later import of an old
    list cannot subscribe it again."""


@contextmanager
def _open(config_path: str, db_path: str | None, create: bool = False):
    """The subscriber list of the state database; feeds.yaml is read only to find it. Only
    the commands that add addresses (`create`) start a new database."""
    from digest.core.config import load_config
    from digest.core.store import Store

    with Store.open(db_path or load_config(config_path).db_path(), create) as store:
        yield Subscribers(store)


def _now() -> datetime:
    return world().now()


@subscribers.command()
@click.argument("email")
@click.option("--name", help="The subscriber's name, used in the greeting.")
@click.option(
    "--resubscribe",
    is_flag=True,
    help="Make an unsubscribed, bounced or complained address active again.",
)
@config_option
@db_option
def add(email: str, name: str | None, resubscribe: bool, config_path, db_path) -> None:
    """Subscribe EMAIL.

    An address that unsubscribed, bounced or complained is only added back with --resubscribe.

    Exit status: 0 subscribed (or already), 1 refused, 2 not an email address."""
    with _open(config_path, db_path, create=True) as subs:
        previous = subs.add(email, name, "cli", _now(), resubscribe=resubscribe)
    address = normalise_email(email)
    if previous is None:
        click.echo(f"added {address}")
    elif previous == "active":
        click.echo(f"{address} is already subscribed")
    else:
        click.echo(f"resubscribed {address} (was {previous})")


@subscribers.command()
@click.argument("email")
@click.option("--forget", is_flag=True, help="Delete the address entirely (erasure request).")
@config_option
@db_option
def remove(email: str, forget: bool, config_path, db_path) -> None:
    """Unsubscribe EMAIL.

    The address stays on the list as unsubscribed, so no later import subscribes it again;
    --forget deletes it instead (an erasure request).

    Exit status: 0 done, 1 not on the list, 2 not an email address."""
    with _open(config_path, db_path) as subs:
        previous = subs.forget(email) if forget else subs.remove(email, _now())
    address = normalise_email(email)
    if forget:
        click.echo(f"forgot {address} (was {previous}); a later import may add it again")
    elif previous == "active":
        click.echo(f"unsubscribed {address}")
    else:
        click.echo(f"{address} is already {previous}; not sent to")


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only addresses with this status.")
@config_option
@db_option
@json_option
def list_(status: str | None, config_path, db_path, as_json: bool) -> None:
    """List the subscribers in address order."""
    from digest.core.output import _plain_table

    with _open(config_path, db_path) as subs:
        found = subs.list(status)
    if as_json:
        click.echo(json.dumps({"subscribers": [s.as_dict() for s in found]}, indent=2))
        return
    rows = [(s.email, s.status, s.source or "", s.updated, s.name or "") for s in found]
    _plain_table(rows, ("email", "status", "source", "updated", "name"), right=())
    click.echo(f"{len(found)} subscriber" + ("" if len(found) == 1 else "s"))


@subscribers.command()
@config_option
@db_option
@json_option
def count(config_path, db_path, as_json: bool) -> None:
    """Count the subscribers by status."""
    with _open(config_path, db_path) as subs:
        counts = subs.count()
    counts["total"] = sum(counts.values())
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    click.echo(", ".join(f"{number} {status}" for status, number in counts.items()))


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@db_option
def import_(file: str, config_path, db_path) -> None:
    """Import addresses from a CSV file.

    The first line names the columns: `email`, and optionally `name` and `status` (as export
    writes them). Addresses already on the list are left exactly as they are.

    Exit status: 0 every row imported, 3 some rows skipped (listed), 2 the file cannot be read
    or has no email column."""
    with _open(config_path, db_path, create=True) as subs:
        report = subs.import_csv(file, _now())
    for line, reason in report.problems:
        click.echo(f"{file}:{line}: {reason}", err=True)
    click.echo(
        f"imported {report.imported}, already there {report.existing}, skipped {report.skipped}"
    )
    if report.skipped:
        raise SystemExit(EXIT_PARTIAL)


@subscribers.command()
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@config_option
@db_option
def export(file: str, config_path, db_path) -> None:
    """Export every subscriber as CSV.

    Columns: email,name,status,source,created,updated. Written to FILE, or to standard output
    when FILE is - or left out."""
    with _open(config_path, db_path) as subs:
        if file == "-":
            subs.export_csv(sys.stdout)
            return
        written = subs.export_file(file)
    click.echo(f"exported {written} subscribers to {file}")


@subscribers.command()
@config_option
@db_option
def sync(config_path, db_path) -> None:
    """Mark the addresses SendGrid suppresses: the unsubscribe group's suppressions, global
    unsubscribes, bounces and spam reports. Needs the SendGrid API key."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.delivery.connect import sendgrid_transport
    from digest.delivery.suppressions import sync_suppressions

    config = load_config(config_path)
    transport = sendgrid_transport(config, world().now)
    with Store.open(db_path or config.db_path(), create=False) as store:
        results = sync_suppressions(transport, Subscribers(store), config, _now())
    for result in results:
        report = result.report
        click.echo(
            f"{result.name}: {result.found} listed, {report.changed} marked, "
            f"{report.unchanged} already marked, {report.unknown} not subscribers"
        )


@subscribers.command()
@config_option
@db_option
def unsubscribe(config_path, db_path) -> None:
    """Unsubscribe the address a signed one-click token carries (for the site's endpoint).

    The token is read from the environment variable DIGEST_UNSUBSCRIBE_TOKEN, else from the
    first line of standard input; never from the command line, which other users of the
    machine can see. The secrets come from the variables sending.unsubscribe_key_env and
    sending.unsubscribe_previous_key_env name. Asking again, or for an address no longer on
    the list, succeeds and changes nothing.

    Exit status: 0 the address is not sent to any more, 3 the token is not valid (nothing
    changed), 1 it could not be done (no state database at that path, a locked or full disk),
    2 feeds.yaml, a secret or the token is missing or broken."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.delivery.unsubscribe import checking_keys, read_token, unsubscribe_address

    config = load_config(config_path)
    address = read_token(_given_token(), checking_keys(config, _now()))
    with Store.open(db_path or config.db_path(), create=False) as store:
        result = unsubscribe_address(Subscribers(store), address, _now())
    if result.previous is None:
        click.echo(f"{result.email} is not on the list; nothing to do")
    elif result.previous == "active":
        click.echo(f"unsubscribed {result.email}")
    else:
        click.echo(f"{result.email} is already {result.previous}; not sent to")


def _given_token() -> str:
    """The token from DIGEST_UNSUBSCRIBE_TOKEN, else standard input's first line."""
    from digest.delivery.unsubscribe import TOKEN_VARIABLE, MissingToken

    token = os.environ.get(TOKEN_VARIABLE) or sys.stdin.readline()
    if not token.strip():
        raise MissingToken("no unsubscribe token was given")
    return token
