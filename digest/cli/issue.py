"""`digest build` and `digest preview`: this week's issue as JSON, and as the rendered email
(in files, or served live)."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.base import (
    config_option,
    db_option,
    exit_status,
    for_run,
    issue_option,
    json_option,
    link_checker,
    no_enrich_option,
    offline_option,
    refresh_sources,
    say_no_network,
    world,
)


@click.command()
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
    from digest.core import output
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.pipeline import build_issue, save_issue

    config = for_run(load_config(config_path), offline, no_enrich)
    now = world().now()
    with Store.open(db_path or config.db_path(), create=not offline) as store:
        reports = refresh_sources(config, store, now, offline)
        issue = build_issue(config, store, now, issue_id, explain=explain)
    issue, fitting = _as_emailed(issue, config)
    path = save_issue(issue, out_dir or config.path.parent / "build")
    say_no_network(reports)
    output.show_issue(issue, path, as_json, explain)
    if fitting and not as_json:
        click.echo(f"warning: {fitting}")
    exit_status(issue, reports)


def _as_emailed(issue, config):
    """(the issue as its email shows it, what to say of that): the items the email moves to
    the archive to fit its size budget are counted over their themes' caps. A template that
    does not render is said (digest preview names the line); the issue is then as built."""
    from digest.core.errors import RenderError
    from digest.publish.preview import rendered_preview

    try:
        preview = rendered_preview(issue, config)
    except RenderError as exc:
        return issue, f"the email does not render ({exc.message}); digest preview shows more"
    return preview.issue, preview.email.moved_note


@click.command()
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

    from digest.core import output
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import curate
    from digest.publish.preview import make_preview, preview_folder, save_preview, sent_record

    config = for_run(load_config(config_path), offline, no_enrich)
    now = world().now()
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    with Store.open(db_path or config.db_path(), create=not offline) as store:
        # A week already sent is shown as it went out: nothing to fetch for it.
        sent = sent_record(store, issue_id) is not None
        reports = refresh_sources(config, store, now, offline or sent)
        result = make_preview(config, store, now, issue_id, templates, out=out_dir)
    if result.sent:
        click.echo(result.sent)
    say_no_network(reports)
    paths = save_preview(result, preview_folder(config, out_dir))
    output.show_preview(result, paths)
    if open_browser:
        webbrowser.open(paths["html"].resolve().as_uri())
    if serve:
        if not offline:  # the live page highlights broken links from this check
            with Store.open(db_path or config.db_path(), create=False) as store:
                link_checker(config, store)(result.issue)
        _serve(Path(config_path), db_path, issue_id, templates, out_dir, port)
    exit_status(result.issue, reports)


def _serve(config_path, db_path, issue_id, templates, out_dir, port: int) -> None:
    from digest.publish.desk import open_desk

    db = db_path and Path(db_path)
    server = open_desk(config_path, db, issue_id, templates, out_dir, world().now, port)
    server.start()
    click.echo(f"Live preview at {server.url} (Ctrl-C stops it)")
    try:
        server.serve_forever()
    finally:
        server.stop()
