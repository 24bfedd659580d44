"""`digest init [DIR]`: a new digest's folder, from flags or from answers typed at the prompts."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.base import world
from digest.core.validators import http_url, named_mailbox


class Checked(click.ParamType):
    """Text that a feeds.yaml check accepts; a prompt asks again when it does not."""

    def __init__(self, name: str, check):
        self.name, self.check = name, check

    def convert(self, value, param, ctx):
        expected = self.check(str(value).strip())
        if expected:
            self.fail(f"{value!r} is not valid (expected {expected})", param, ctx)
        return str(value).strip()


@click.command()
@click.argument(
    "folder", default=".", type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]"
)
@click.option("--name", prompt="Newsletter name", help="The digest's title.")
@click.option(
    "--website",
    prompt="Community website",
    type=Checked("url", http_url),
    help="The community's site (https://...).",
)
@click.option(
    "--sender",
    prompt="Sender, 'Name <address>'",
    type=Checked("sender", named_mailbox),
    help="The From address with the name inboxes show, 'Name <digest@example.org>'.",
)
@click.option(
    "--weeknote",
    type=Checked("url", http_url),
    help="The weeknote page's URL (default: a placeholder that digest check points at).",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Sample feeds and weeknote page in the folder, sends to the outbox: no network needed.",
)
@click.option("--templates", is_flag=True, help="Copy the default templates in, to edit.")
@click.option(
    "--archive-url",
    type=Checked("url", http_url),
    help="Where the web archive will be served (default: the website's /digest/).",
)
def init(
    folder: Path,
    name: str,
    website: str,
    sender: str,
    weeknote: str | None,
    offline: bool,
    templates: bool,
    archive_url: str | None,
) -> None:
    """Start a new digest in DIR (default: here): a commented feeds.yaml, an example
    overrides.yaml and, with --templates, the templates to edit. Writes over nothing: a file
    that exists stops it, with nothing written.

    Exit status: 0 written, 1 a file exists or an answer is not valid."""
    from digest.curation import curate
    from digest.email.render import default_templates
    from digest.ops.init import TIMEZONE, Answers, init_folder

    answers = Answers(name, website, sender, weeknote, offline, templates, archive_url)
    this_week = curate.issue_id(world().now(), TIMEZONE)
    created = init_folder(folder, answers, this_week, default_templates())
    click.echo(f"wrote {len(created.files)} files into {created.folder}:")
    for top in dict.fromkeys(path.relative_to(created.folder).parts[0] for path in created.files):
        click.echo(f"  {top}/" if (created.folder / top).is_dir() else f"  {top}")
    derived = "" if archive_url else " (from --website; --archive-url, or feeds.yaml, to change)"
    click.echo(f"the web archive's address: {answers.archive}{derived}")
    click.echo("Next steps:")
    for number, step in enumerate(created.next_steps, 1):
        click.echo(f"  {number}. {step}")
