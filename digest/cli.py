"""The `digest` command line. Commands build their objects, call the core and print; errors are
translated to `Error:` / `Hint:` lines and exit codes in one place, `DigestGroup.invoke`."""

from __future__ import annotations

import click

from digest import __version__
from digest.errors import ConfigError, DigestError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


class DigestGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            if ctx.params.get("debug"):
                raise
            if isinstance(exc, ConfigError):
                for problem in exc.problems:
                    click.echo(problem, err=True)
            click.echo(f"Error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


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
    from datetime import UTC, datetime

    from digest import output
    from digest.config import load_config
    from digest.pipeline import fetch_sources, source_count
    from digest.store import Store

    config = load_config(config_path)
    now = datetime.now(UTC).replace(microsecond=0)
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


@main.command()
@config_option
@db_option
@json_option
@click.option(
    "--issue",
    "issue_id",
    callback=_issue_id,
    help="Issue id, e.g. 2026-W48 (default: this week in newsletter.timezone).",
)
@click.option("--offline", is_flag=True, help="Build from the state database; fetch nothing.")
@click.option("--explain", is_flag=True, help="Say why each candidate is where it is, or is not.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for the issue JSON (default: build/ beside feeds.yaml).",
)
def build(
    config_path: str,
    db_path: str | None,
    as_json: bool,
    issue_id: str | None,
    offline: bool,
    explain: bool,
    out_dir: str | None,
) -> None:
    """Fetch the sources and build this week's issue into a JSON file. Sends nothing and marks
    nothing sent.

    Exit status: 0 built, 3 built but some sources failed, 1 built with no items."""
    from datetime import UTC, datetime
    from pathlib import Path

    from digest import output
    from digest.config import load_config
    from digest.pipeline import build_issue, fetch_sources, save_issue, source_count
    from digest.store import Store

    config = load_config(config_path)
    now = datetime.now(UTC).replace(microsecond=0)
    with Store.open(db_path or config.db_path()) as store:
        reports = []
        if not offline:
            with output.progress(source_count(config), "Fetching sources") as advance:
                reports = fetch_sources(config, store, now, on_report=advance)
        issue = build_issue(config, store, now, issue_id)
    path = save_issue(issue, Path(out_dir) if out_dir else config.path.parent / "build")
    output.show_issue(issue, path, as_json, explain)
    if not issue.themes:
        raise SystemExit(EXIT_FAILED)
    if any(report.failed for report in reports):
        raise SystemExit(EXIT_PARTIAL)
