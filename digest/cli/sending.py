"""`digest send`, `digest status` and `digest cancel`: send this week's issue exactly once,
list the sends, and cancel a scheduled one."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.base import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    config_option,
    db_option,
    for_run,
    issue_option,
    json_option,
    link_checker,
    no_enrich_option,
    refresh_sources,
    valid_issue_id,
    world,
)
from digest.core.errors import DigestError


@click.command()
@config_option
@db_option
@issue_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what the real send would do (its exit status too), and send nothing.",
)
@click.option("--test", "test_to", metavar="ADDRESSES", help="Send only to these (a,b), [TEST].")
@click.option("--sandbox", is_flag=True, help="SendGrid checks the request but delivers nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Send even though the weeknote failed, links are broken or Gmail would clip the email.",
)
@click.option("--resume", is_flag=True, help="Only continue a send already started.")
@click.option("--retry-unknown", is_flag=True, help="Send batches of unknown fate again.")
@click.option(
    "--accept-batch",
    "accept_batches",
    type=int,
    multiple=True,
    metavar="N",
    help="Record unknown batch N as delivered (you found it in SendGrid's activity).",
)
@click.option("--schedule", metavar="'YYYY-MM-DD HH:MM'", help="Deliver then (72 h at most).")
@click.option("--publish", is_flag=True, help="Rebuild the web archive after a complete send.")
@no_enrich_option
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    help="Rehearse: write every message into this folder and mark nothing sent.",
)
def send(
    config_path: str,
    db_path: str | None,
    issue_id: str | None,
    dry_run: bool,
    test_to: str | None,
    sandbox: bool,
    force: bool,
    resume: bool,
    retry_unknown: bool,
    accept_batches: tuple[int, ...],
    schedule: str | None,
    publish: bool,
    no_enrich: bool,
    outbox: Path | None,
) -> None:
    """Send this week's issue to every active subscriber, exactly once; safe to run from cron
    and to run again. It goes where sending.transport says: SendGrid, with the key from
    SENDGRID_API_KEY (sending.key_env), or the outbox folder (nothing is emailed).

    Exit status: 0 sent (or already sent, or skipped by policy), 1 not completely sent (the
    message says what to do), 2 refused by SendGrid or a broken config, 3 sent but some
    sources failed."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import curate
    from digest.delivery import send as sending
    from digest.delivery.approval import Approvals
    from digest.delivery.connect import make_transport
    from digest.delivery.ledger import Ledger
    from digest.delivery.lock import send_lock
    from digest.delivery.message import unsubscribe_secret
    from digest.delivery.schedule import schedule_time
    from digest.delivery.subscribers import Subscribers

    config = for_run(load_config(config_path), False, no_enrich)
    clock = world().now
    now = clock()
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    send_at = schedule_time(schedule, config, now) if schedule else None
    transport = make_transport(config, clock, outbox)
    unsubscribe_secret(config)  # a missing signing secret stops the send before it starts
    # Only a test send can go out from a new database (it builds the issue afresh, as preview
    # does); every other send, the dry run too, needs the subscribers an existing one holds.
    with Store.open(db_path or config.db_path(), create=bool(test_to) and not dry_run) as store:
        ledger = Ledger(store)
        reports: list = []
        built: list = []  # the issue built and rendered, when this run built one

        def build(issue_id: str):
            from digest.publish.preview import make_preview

            reports.extend(refresh_sources(config, store, clock(), offline=False))
            built.append(make_preview(config, store, clock(), issue_id, None))
            return built[-1]

        def sender(lock=None) -> sending.Sender:
            checker = link_checker(config, store) if config.links.before_send else None
            return sending.Sender(
                config,
                ledger,
                transport,
                clock,
                world().sleep,
                lock=lock,
                link_check=checker,
                approvals=Approvals(store),
            )

        if dry_run:  # the real send's decisions, taken the same way, and nothing sent
            decision = sender().dry_run(
                issue_id, build, Subscribers(store).active, force=force, resume_only=resume
            )
            for line in decision.lines():
                click.echo(line)
            _moved(built)
            _source_failures(reports)
            raise SystemExit(decision.exit_code)
        if test_to or sandbox or outbox:
            _without_ledger(config, ledger, transport, issue_id, build, test_to, sandbox)
            return
        try:
            with send_lock(store, clock) as lock:
                result = sender(lock).send_issue(
                    issue_id,
                    build,
                    Subscribers(store).active,
                    force=force,
                    resume_only=resume,
                    retry_unknown=retry_unknown,
                    accept_batches=frozenset(accept_batches),
                    send_at=send_at,
                )
        except DigestError as exc:
            lines = [exc.message, *getattr(exc, "__notes__", ()), f"What to do: {exc.hint}"]
            _tell_editor(config, transport, f"issue {issue_id} was not sent", lines, issue_id)
            raise
        click.echo(result.message)
        _moved(built)
        if result.outcome == "held":
            _tell_editor(config, transport, f"issue {issue_id} is held", [result.message], issue_id)
            raise SystemExit(sending.HELD_EXIT)
        if not result.complete:
            what = f"issue {issue_id} was not completely sent"
            _tell_editor(config, transport, what, [result.message], issue_id)
        if publish and result.complete:
            _publish(config, store)
    _source_failures(reports)
    if not result.complete:
        raise SystemExit(EXIT_FAILED)
    if any(report.failed for report in reports):
        raise SystemExit(EXIT_PARTIAL)


def _tell_editor(config, transport, subject: str, lines: list[str], issue_id: str) -> None:
    """Mail notify.email what went wrong; when that fails too, say so on stderr."""
    from digest.delivery.notify import notify

    lines = [*lines, f"Where it stands: digest status --config {config.path}"]
    problem = notify(config, transport, subject, lines, issue_id, world().now())
    if problem:
        click.echo(f"Warning: {problem}", err=True)


def _moved(built: list) -> None:
    """The line saying which items the email built this run moved to the archive to fit."""
    note = built and built[-1].email.moved_note
    if note:
        click.echo(f"Note: {note}")


def _source_failures(reports) -> None:
    """A line per source that failed, or one 'no network?' line when none could be reached."""
    from digest.pipeline import unreachable_sources

    offline = unreachable_sources(reports)
    if offline:
        click.echo(offline)
        return
    for report in reports:
        if report.failed:
            click.echo(f"source {report.name}: {report.error}")


def _publish(config, store) -> None:
    from digest.publish.archive import build_site

    report = build_site(config, store, world().now())
    click.echo(
        f"archive {report.folder}: {report.written} files written, {report.unchanged} "
        f"unchanged, {report.removed} removed"
    )


def _without_ledger(config, ledger, transport, issue_id, build, test_to, sandbox):
    """--test, --sandbox and --outbox: the content being sent this week (frozen if a send has
    started, else as approved, else freshly built), and nothing written to the ledger."""
    from digest.core.text import plural
    from digest.delivery.approval import Approvals
    from digest.delivery.message import FrozenEmail
    from digest.delivery.rehearsal import send_test, send_unrecorded
    from digest.delivery.subscribers import Subscribers, normalise_email

    record = ledger.issue(issue_id)
    approval = Approvals(ledger.store).get(issue_id)
    if record is not None:
        content = record.email
    elif approval is not None:
        content = FrozenEmail(approval.subject, approval.html, approval.text)
    else:
        rendered = build(issue_id).email
        content = FrozenEmail(rendered.subject, rendered.html, rendered.text)
    if test_to:
        addresses = [normalise_email(a) for a in test_to.split(",") if a.strip()]
        message_id = send_test(transport, config, content, issue_id, addresses, sandbox)
        where = transport.delivered(len(addresses))
        click.echo(f"test sent to {', '.join(addresses)}: {where} ({message_id})")
        return
    people = Subscribers(ledger.store).active()
    batches = send_unrecorded(transport, config, content, issue_id, people, sandbox)
    if sandbox:
        done = f"{transport.name} accepted {plural(batches, 'batch')} in sandbox mode"
        click.echo(f"{done}; nothing was delivered")
    else:
        done = transport.delivered(len(people))
        click.echo(f"rehearsal of issue {issue_id}: {done}; nothing was marked sent")


@click.command()
@config_option
@db_option
@json_option
def status(config_path: str, db_path: str | None, as_json: bool) -> None:
    """List each issue's state: this week's draft, approved (by whom, when, the hash of what
    goes out), held (why), or sent and being sent, with their batches and message ids."""
    from digest.core import output
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import curate
    from digest.delivery.approval import Approvals
    from digest.delivery.ledger import Ledger

    config = load_config(config_path)
    draft = curate.issue_id(world().now(), config.newsletter.timezone)
    with Store.open(db_path or config.db_path(), create=False) as store:
        ledger, approvals = Ledger(store), Approvals(store)
        output.show_status(
            ledger.overview(), approvals.overview(), approvals.last_holds(), draft, as_json
        )


@click.command()
@config_option
@db_option
@click.argument("issue_id", metavar="ISSUE", callback=valid_issue_id)
def cancel(config_path: str, db_path: str | None, issue_id: str) -> None:
    """Cancel a scheduled send (at least 10 minutes before it goes), or forget a send that
    delivered nothing."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.delivery.connect import make_transport
    from digest.delivery.ledger import Ledger
    from digest.delivery.lock import send_lock
    from digest.delivery.schedule import cancel_issue

    config = load_config(config_path)
    transport = make_transport(config, world().now)
    with (
        Store.open(db_path or config.db_path(), create=False) as store,
        send_lock(store, world().now),  # never forget batches a running send is sending
    ):
        message = cancel_issue(Ledger(store), transport, issue_id, world().now())
    click.echo(message)


@click.command(name="notify")
@config_option
@click.argument("message")
def notify_editor(config_path: str, message: str) -> None:
    """Mail notify.email MESSAGE, through sending.transport: for a job that failed where digest
    could not say so itself (systemd's OnFailure= unit in deploy/, a crash, a killed process).

    Exit status: 0 told, 1 the message could not go, 2 notify.email is not set."""
    from digest.core.config import load_config
    from digest.delivery.connect import make_transport
    from digest.delivery.notify import NobodyToTell, notify

    config = load_config(config_path)
    if not config.notify.email:
        raise NobodyToTell(
            "notify.email is not set, so there is nobody to tell",
            "set notify.email in feeds.yaml to the editor's address",
        )
    transport = make_transport(config, world().now)
    lines = [message, f"Where it stands: digest status --config {config.path}"]
    problem = notify(config, transport, message, lines, "notice", world().now())
    if problem:
        raise DigestError(problem, "check sending.transport and the key, then run it again")
    click.echo(f"told {config.notify.email}")
