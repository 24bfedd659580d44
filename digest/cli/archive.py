"""`digest archive`: a thin command over digest.publish.archive."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.base import config_option, db_option, world


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site into (default: archive.folder beside feeds.yaml).",
)
@config_option
@db_option
def archive(out: Path | None, config_path: str, db_path: str | None) -> None:
    """Write the web archive of sent issues as a static site: index.html, one page per issue,
    one page per theme, feed.xml (Atom) and style.css.

    Only files whose content changed are written; pages of issues no longer published (a
    cancelled send) are removed. Needs email.archive_url.

    Exit status: 0 written, 1 the folder cannot be written, 2 no email.archive_url or a
    broken template."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.publish.archive import build_site

    config = load_config(config_path)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=False) as store:
        report = build_site(config, store, now, out)
    click.echo(
        f"archive in {report.folder}: {report.issues} issues, {report.themes} themes; "
        f"{report.written} files written, {report.unchanged} unchanged, {report.removed} removed"
    )
