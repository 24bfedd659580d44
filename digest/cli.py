"""The `digest` command line. Commands build their objects, call the core and print; errors are
translated to `Error:` / `Hint:` lines and exit codes in one place, `DigestGroup.invoke`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import click

from digest import __version__
from digest.errors import ConfigError, DigestError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


@dataclass(frozen=True)
class World:
    """What commands take from outside digest: the clock, and how to wait (between retries of
    a send). The command line runs on the real ones; tests pass others,
    `CliRunner().invoke(main, args, obj=World(clock=...))`."""

    clock: Callable[[], datetime] = field(default=partial(datetime.now, UTC))
    sleep: Callable[[float], None] = time.sleep

    def now(self) -> datetime:
        """This moment to the second, as the state stores moments."""
        return self.clock().replace(microsecond=0)


def world() -> World:
    """The World the running command was invoked with."""
    return click.get_current_context().ensure_object(World)


class DigestGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (DigestError, OSError) as exc:
            if ctx.params.get("debug"):
                raise
            error = exc if isinstance(exc, DigestError) else _local_failure(exc)
            if isinstance(error, ConfigError):
                for problem in error.problems:
                    click.echo(problem, err=True)
            click.echo(f"Error: {error.message}", err=True)
            if error.hint:
                click.echo(f"Hint: {error.hint}", err=True)
            ctx.exit(error.exit_code)


def _local_failure(exc: OSError) -> DigestError:
    """A file digest could not write or read (a full disk, a read-only folder, a path that is
    taken), as one line naming it."""
    where = f"{exc.filename}: " if exc.filename else ""
    return DigestError(
        f"{where}{exc.strerror or exc}",
        "check that the disk has space and the folder is writable, then run the command again",
    )


config_option = click.option(
    "--config",
    "-c",
    "config_path",
    default="feeds.yaml",
    show_default=True,
    envvar="DIGEST_CONFIG",
    type=click.Path(dir_okay=False),
    help="The feeds.yaml to read (env DIGEST_CONFIG).",
)
db_option = click.option(
    "--db",
    "db_path",
    envvar="DIGEST_DB",
    type=click.Path(dir_okay=False),
    help="SQLite state file (env DIGEST_DB); default: state.db in feeds.yaml.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="digest")
def main(debug: bool) -> None:
    """Publish a weekly themed email digest from a weeknote and partner feeds."""


@main.command()
@config_option
def check(config_path: str) -> None:
    """Validate feeds.yaml and report every problem at once."""
    from digest.config import load_config

    config = load_config(config_path)
    enabled = sum(feed.enabled for feed in config.feeds)
    weeknote = config.weeknote
    source = "none" if weeknote is None else (weeknote.url or f"announced in {weeknote.feed}")
    click.echo(
        f"{config_path} is valid: {len(config.themes)} themes, {len(config.feeds)} feeds "
        f"({enabled} enabled), weeknote: {source}"
    )


@main.command()
@config_option
@db_option
@json_option
def fetch(config_path: str, db_path: str | None, as_json: bool) -> None:
    """Fetch every enabled feed and the weeknote into the state database; report each source.

    Exit status: 0 all sources fine, 3 some failed, 1 all failed."""
    from digest import output
    from digest.config import load_config
    from digest.pipeline import fetch_sources, source_count
    from digest.store import Store

    config = load_config(config_path)
    now = world().now()
    with (
        Store.open(db_path or config.db_path()) as store,
        output.progress(source_count(config), "Fetching sources") as advance,
    ):
        reports = fetch_sources(config, store, now, on_report=advance)
    output.show_fetch(reports, as_json)
    failed = sum(report.failed for report in reports)
    if failed:
        raise SystemExit(EXIT_FAILED if failed == len(reports) else EXIT_PARTIAL)


def _issue_id(ctx, param, value: str | None) -> str | None:
    from digest.overrides import ISSUE_ID

    if value is not None and not ISSUE_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an issue id (expected a week like 2026-W48)")
    return value


issue_option = click.option(
    "--issue",
    "issue_id",
    callback=_issue_id,
    help="Issue id, e.g. 2026-W48 (default: this week in newsletter.timezone).",
)
offline_option = click.option(
    "--offline", is_flag=True, help="Use what the state database holds; fetch nothing."
)
no_enrich_option = click.option(
    "--no-enrich",
    is_flag=True,
    help="Read no linked page for titles, descriptions, publishers (tidy rules still apply).",
)


def _for_run(config, offline: bool, no_enrich: bool):
    """The config as this run uses it: linked pages are read unless --offline (then only the
    cache) or --no-enrich (then not at all)."""
    import dataclasses

    enrich = dataclasses.replace(
        config.enrich, enabled=config.enrich.enabled and not no_enrich, online=not offline
    )
    return dataclasses.replace(config, enrich=enrich)


def _refresh(config, store, now, offline: bool) -> list:
    """Fetch every source (with a progress bar on a terminal), unless offline."""
    from digest import output
    from digest.pipeline import fetch_sources, source_count

    if offline:
        return []
    with output.progress(source_count(config), "Fetching sources") as advance:
        return fetch_sources(config, store, now, on_report=advance)


def _exit_status(issue, reports) -> None:
    if not issue.themes:
        raise SystemExit(EXIT_FAILED)
    if any(report.failed for report in reports):
        raise SystemExit(EXIT_PARTIAL)


@main.command()
@config_option
@db_option
@json_option
@issue_option
@offline_option
@no_enrich_option
@click.option("--explain", is_flag=True, help="Say why each candidate is where it is, or is not.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the issue JSON (default: build/ beside feeds.yaml).",
)
def build(
    config_path: str,
    db_path: str | None,
    as_json: bool,
    issue_id: str | None,
    offline: bool,
    no_enrich: bool,
    explain: bool,
    out_dir: Path | None,
) -> None:
    """Fetch the sources and build this week's issue into a JSON file. Sends nothing and marks
    nothing sent.

    Exit status: 0 built, 3 built but some sources failed, 1 built with no items."""
    from digest import output
    from digest.config import load_config
    from digest.pipeline import build_issue, save_issue
    from digest.store import Store

    config = _for_run(load_config(config_path), offline, no_enrich)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=not offline) as store:
        reports = _refresh(config, store, now, offline)
        issue = build_issue(config, store, now, issue_id, explain=explain)
    path = save_issue(issue, out_dir or config.path.parent / "build")
    output.show_issue(issue, path, as_json, explain)
    _exit_status(issue, reports)


@main.command()
@config_option
@db_option
@issue_option
@offline_option
@no_enrich_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for issue.html/.txt/.mjml/.json (default: email.preview_dir, preview/).",
)
@click.option(
    "--templates",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of edited templates (default: email.templates, else the built-in ones).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in the browser.")
@click.option("--serve", is_flag=True, help="Serve a live preview on 127.0.0.1 until Ctrl-C.")
@click.option("--port", default=8025, show_default=True, help="Port for --serve (0: any free).")
def preview(
    config_path: str,
    db_path: str | None,
    issue_id: str | None,
    offline: bool,
    no_enrich: bool,
    out_dir: Path | None,
    templates: Path | None,
    open_browser: bool,
    serve: bool,
    port: int,
) -> None:
    """Build and render this week's email into files, exactly as subscribers would get it.
    Sends nothing and marks nothing sent; --serve re-renders when feeds.yaml, the templates or
    the overrides file change, and the page reloads itself.

    Exit status: 0 rendered, 3 rendered but some sources failed, 1 no items, 2 a template or
    feeds.yaml is broken."""
    import webbrowser

    from digest import output
    from digest.config import load_config
    from digest.preview import make_preview, preview_folder, save_preview
    from digest.store import Store

    config = _for_run(load_config(config_path), offline, no_enrich)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=not offline) as store:
        reports = _refresh(config, store, now, offline)
        result = make_preview(config, store, now, issue_id, templates)
    paths = save_preview(result, preview_folder(config, out_dir))
    output.show_preview(result, paths)
    if open_browser:
        webbrowser.open(paths["html"].resolve().as_uri())
    if serve:
        if not offline:  # the live page highlights broken links from this check
            with Store.open(db_path or config.db_path()) as store:
                _link_checker(config, store)(result.issue)
        _serve(config, Path(config_path), db_path, issue_id, templates, out_dir, port)
    _exit_status(result.issue, reports)


def _serve(config, config_path, db_path, issue_id, templates, out_dir, port: int) -> None:
    from digest.preview import page_renderer, watched_paths
    from digest.serve import PreviewServer

    render = page_renderer(
        config_path, db_path and Path(db_path), issue_id, templates, out_dir, world().now
    )
    server = PreviewServer(render, watched_paths(config, templates), port=port)
    server.start()
    click.echo(f"Live preview at {server.url} (Ctrl-C stops it)")
    try:
        server.serve_forever()
    finally:
        server.stop()


@main.command()
@config_option
@db_option
@issue_option
@click.option("--dry-run", is_flag=True, help="Say what would be sent, and send nothing.")
@click.option("--test", "test_to", metavar="ADDRESSES", help="Send only to these (a,b), [TEST].")
@click.option("--sandbox", is_flag=True, help="SendGrid checks the request but delivers nothing.")
@click.option("--force", is_flag=True, help="Send even though the weeknote could not be fetched.")
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
    from digest import curate
    from digest import send as sending
    from digest.config import load_config
    from digest.ledger import Ledger
    from digest.store import Store
    from digest.subscribers import Subscribers
    from digest.transports import make_transport

    config = _for_run(load_config(config_path), False, no_enrich)
    clock = world().now
    now = clock()
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    send_at = sending.schedule_time(schedule, config, now) if schedule else None
    transport = make_transport(config, clock, outbox)
    with Store.open(db_path or config.db_path()) as store:
        ledger = Ledger(store)
        reports: list = []

        def build(issue_id: str):
            from digest.preview import make_preview

            reports.extend(_refresh(config, store, clock(), offline=False))
            return make_preview(config, store, clock(), issue_id, None)

        if test_to or dry_run or sandbox or outbox:
            rehearsal = outbox is not None and not dry_run
            _without_ledger(config, ledger, transport, issue_id, build, test_to, sandbox, rehearsal)
            return
        with ledger.lock(clock) as heartbeat:
            sender = sending.Sender(
                config,
                ledger,
                transport,
                clock,
                world().sleep,
                heartbeat=heartbeat,
                link_check=_link_checker(config, store) if config.links.before_send else None,
            )
            result = sender.send_issue(
                issue_id,
                build,
                Subscribers(store).active,
                force=force,
                resume_only=resume,
                retry_unknown=retry_unknown,
                accept_batches=frozenset(accept_batches),
                send_at=send_at,
            )
        click.echo(result.message)
        if publish and result.complete:
            _publish(config, store)
    for report in reports:
        if report.failed:
            click.echo(f"source {report.name}: {report.error}")
    if not result.complete:
        raise SystemExit(EXIT_FAILED)
    if any(report.failed for report in reports):
        raise SystemExit(EXIT_PARTIAL)


def _link_checker(config, store):
    def check(issue):
        from digest.links import check_links, issue_links

        return check_links(issue_links(issue), config, store, world().now())

    return check


def _publish(config, store) -> None:
    from digest.archive import build_site

    report = build_site(config, store, world().now())
    click.echo(
        f"archive {report.folder}: {report.written} files written, {report.unchanged} "
        f"unchanged, {report.removed} removed"
    )


def _without_ledger(config, ledger, transport, issue_id, build, test_to, sandbox, rehearsal):
    """--test, --sandbox, --outbox and --dry-run: the content being sent this week (frozen if
    a send has started, else freshly built), and nothing written to the ledger."""
    from digest import send as sending
    from digest.message import FrozenEmail
    from digest.subscribers import Subscribers, normalise_email

    record = ledger.issue(issue_id)
    if record is not None:
        content = record.email
    else:
        rendered = build(issue_id).email
        content = FrozenEmail(rendered.subject, rendered.html, rendered.text)
    if test_to:
        addresses = [normalise_email(a) for a in test_to.split(",") if a.strip()]
        message_id = sending.send_test(transport, config, content, issue_id, addresses, sandbox)
        where = transport.delivered(len(addresses))
        click.echo(f"test sent to {', '.join(addresses)}: {where} ({message_id})")
        return
    people = Subscribers(ledger.store).active()
    if sandbox or rehearsal:
        batches = sending.send_unrecorded(transport, config, content, issue_id, people, sandbox)
        if sandbox:
            done = f"{transport.name} accepted all {batches} batches in sandbox mode"
            click.echo(f"{done}; nothing was delivered")
        else:
            done = transport.delivered(len(people))
            click.echo(f"rehearsal of issue {issue_id}: {done}; nothing was marked sent")
        return
    for line in sending.plan(config, record, content, len(people), transport):
        click.echo(line)


@main.command()
@config_option
@db_option
@json_option
def status(config_path: str, db_path: str | None, as_json: bool) -> None:
    """List the issues sent or being sent, with their batches and message ids."""
    from digest import output
    from digest.config import load_config
    from digest.ledger import Ledger
    from digest.store import Store

    config = load_config(config_path)
    with Store.open(db_path or config.db_path(), create=False) as store:
        ledger = Ledger(store)
        rows = [(record, ledger.batches(record.id)) for record in ledger.issues()]
    output.show_status(rows, as_json)


@main.command()
@config_option
@db_option
@click.argument("issue_id", metavar="ISSUE", callback=_issue_id)
def cancel(config_path: str, db_path: str | None, issue_id: str) -> None:
    """Cancel a scheduled send (at least 10 minutes before it goes), or forget a send that
    delivered nothing."""
    from digest import send as sending
    from digest.config import load_config
    from digest.ledger import Ledger
    from digest.store import Store
    from digest.transports import make_transport

    config = load_config(config_path)
    transport = make_transport(config, world().now)
    with Store.open(db_path or config.db_path(), create=False) as store:
        message = sending.cancel_issue(Ledger(store), transport, issue_id, world().now())
    click.echo(message)


# Command groups in their own modules; they import the shared options above.
from digest.cli_archive import archive  # noqa: E402
from digest.cli_links import links  # noqa: E402
from digest.cli_subscribers import subscribers  # noqa: E402
from digest.cli_themes import themes  # noqa: E402

main.add_command(archive)
main.add_command(links)
main.add_command(subscribers)
main.add_command(themes)
