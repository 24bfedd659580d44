"""`digest preview`: the issue rendered into files an editor can open, and the pages the live
preview server shows. Read-only like `digest build`: nothing here marks anything sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.config import Config, load_config
from digest.models import Issue
from digest.pipeline import build_issue
from digest.render import RenderedEmail, render_email, template_folders
from digest.store import Store


@dataclass(frozen=True)
class Preview:
    issue: Issue
    email: RenderedEmail


def make_preview(
    config: Config, store: Store, now: datetime, issue_id: str | None, templates: Path | None
) -> Preview:
    issue = build_issue(config, store, now, issue_id)
    return Preview(issue, render_email(issue, config, template_folders(config, templates)))


def preview_folder(config: Config, out: Path | None) -> Path:
    return out or config.path.parent / config.email.preview_dir


def save_preview(preview: Preview, folder: Path) -> dict[str, Path]:
    """issue.html, issue.txt, issue.mjml and issue.json in `folder`; their paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "html": preview.email.html,
        "txt": preview.email.text,
        "mjml": preview.email.mjml,
        "json": preview.issue.to_json(),
    }
    paths = {}
    for kind, text in contents.items():
        path = folder / f"issue.{kind}"
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
        paths[kind] = path
    return paths


def watched_paths(config: Config, templates: Path | None) -> list[Path]:
    """What the live preview watches: feeds.yaml, the overrides file and the templates."""
    return [config.path, config.overrides_path(), *template_folders(config, templates)]


def page_renderer(
    config_path: Path,
    db_path: Path | None,
    issue_id: str | None,
    templates: Path | None,
    out: Path | None,
    clock: Callable[[], datetime],
) -> Callable:
    """A function the preview server calls after every change: it reads feeds.yaml again,
    rebuilds the issue from the state database (no fetching) as of `clock()`, renders,
    rewrites the files and returns the page to show, with the links the last link check found
    broken."""
    from digest.links import cached_results, issue_links
    from digest.serve import PreviewPage

    def render() -> PreviewPage:
        config = load_config(config_path)
        now = clock()
        with Store.open(db_path or config.db_path()) as store:
            preview = make_preview(config, store, now, issue_id, templates)
            checked = cached_results(issue_links(preview.issue), config, store, now)
        save_preview(preview, preview_folder(config, out))
        issue, email = preview.issue, preview.email
        sources = tuple(
            (s.name, s.status, s.error or ("stale" if s.stale else "")) for s in issue.sources
        )
        broken = broken_hrefs(email.html, [url for url, r in checked.items() if r.broken])
        return PreviewPage(
            email.subject, email.preheader, email.html, email.text, issue.id, sources, broken
        )

    return render


def broken_hrefs(html: str, broken_urls: list[str]) -> frozenset[str]:
    """The hrefs of the email that point at broken links; the email's carry utm_* tags, so
    they are compared by canonical URL."""
    import html as markup
    import re

    from digest.urls import canonical_url

    broken = {canonical_url(url) for url in broken_urls}
    hrefs = {markup.unescape(href) for href in re.findall(r'href="([^"]*)"', html)}
    return frozenset(
        href for href in hrefs if href.startswith("http") and canonical_url(href) in broken
    )
