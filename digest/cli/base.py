"""The `digest` group and what every command family shares: the `World` commands run in, the
shared options and the helpers several families use.

Errors are translated to `Error:` / `Hint:` lines and exit codes in one place,
`DigestGroup.invoke`. Family modules import from here and from the core only; the package's
`__init__` registers their commands on `main`, so no module imports the module that imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import click

from digest import __version__
from digest.core.errors import ConfigError, DigestError

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
            for note in getattr(error, "__notes__", ()):  # what the error leaves behind
                click.echo(note, err=True)
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


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="digest")
def main(debug: bool) -> None:
    """Publish a weekly themed email digest from a weeknote and partner feeds."""


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


def valid_issue_id(ctx, param, value: str | None) -> str | None:
    """A click callback: an issue id given on the command line must name an ISO week."""
    from digest.curation.overrides import ISSUE_ID

    if value is not None and not ISSUE_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an issue id (expected a week like 2026-W48)")
    return value


issue_option = click.option(
    "--issue",
    "issue_id",
    callback=valid_issue_id,
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


def for_run(config, offline: bool, no_enrich: bool):
    """The config as this run uses it: linked pages are read unless --offline (then only the
    cache) or --no-enrich (then not at all)."""
    import dataclasses

    enrich = dataclasses.replace(
        config.enrich, enabled=config.enrich.enabled and not no_enrich, online=not offline
    )
    return dataclasses.replace(config, enrich=enrich)


def refresh_sources(config, store, now, offline: bool) -> list:
    """Fetch every source (with a progress bar on a terminal), unless offline."""
    from digest.core import output
    from digest.pipeline import fetch_sources, source_count

    if offline:
        return []
    with output.progress(source_count(config), "Fetching sources") as advance:
        return fetch_sources(config, store, now, on_report=advance)


def exit_status(issue, reports) -> None:
    """Exit 1 when the issue has nothing in it, 3 when some source failed."""
    if not issue.themes:
        raise SystemExit(EXIT_FAILED)
    if any(report.failed for report in reports):
        raise SystemExit(EXIT_PARTIAL)


def link_checker(config, store):
    """A function that checks the links of an issue now; the checker loads only when called."""

    def check(issue):
        from digest.sources.links import check_links, issue_links

        return check_links(issue_links(issue), config, store, world().now())

    return check


# What `digest build` and `digest preview` can do when no source can be reached.
WORK_OFFLINE = "work from what the state holds with --offline"


def say_no_network(reports, instead: str = WORK_OFFLINE) -> None:
    """Say 'no network?' once, on stderr, when no source on the web could be reached, with
    what the command can do `instead`."""
    from digest.pipeline import unreachable_sources

    offline = unreachable_sources(reports, instead)
    if offline:
        click.echo(offline, err=True)
