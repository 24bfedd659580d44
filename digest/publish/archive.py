"""The web archive: every published issue as a static site any web host can serve.

    site/index.html                  the issues, newest first, and the themes
    site/issues/2026-W48/index.html  one issue, each theme under id="<slug>"
    site/themes/<slug>/index.html    every item ever sent under a theme, newest issue first
    site/feed.xml                    an Atom feed of the issues
    site/style.css

An issue is published once its send is complete and its delivery time (a scheduled send's
`send_at`, else `sent_at`) has come; cancelled issues never are. The pages come from the
`web/` Jinja2 templates (the editor's folder first, then the defaults), so editors can restyle
them like the email. Every byte of output derives from the ledger and feeds.yaml, never from the
clock, so a rebuild of the same state writes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2

from digest.core.errors import DigestError, RenderError
from digest.core.files import write_file
from digest.core.settings import Config
from digest.core.store import Store
from digest.core.text import fold, long_date, plural, short_date
from digest.curation.overrides import ISSUE_ID
from digest.delivery.ledger import IssueRecord, Ledger
from digest.email.render import template_folders
from digest.email.view import (
    FONTS,
    ImageView,
    dark_palette,
    first_sentence,
    image_view,
    is_web,
    palette,
    short_blurb,
)

ATOM = "http://www.w3.org/2005/Atom"
# A slug becomes a folder name: letters, digits and inner hyphens only, never "." or "/".
SAFE_SLUG = re.compile(r"\w[\w-]*")
# The feed's <updated> when nothing is published yet: a fixed time, so rebuilds stay identical.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGES = ("issues", "themes")  # the folders of generated pages; anything else there is left alone


class MissingArchiveUrl(DigestError):
    exit_code = 2
    hint = (
        "set email.archive_url in feeds.yaml to the address the site will be served from, "
        "e.g. https://digest.example.org; run digest archive, then copy the folder it writes to "
        "any static web host at that address (README.md: 'Publishing the archive')"
    )


class ArchiveWriteError(DigestError):
    hint = "check archive.folder in feeds.yaml (or --out) and that you may write there"


@dataclass(frozen=True)
class SiteReport:
    folder: Path
    written: int
    unchanged: int
    removed: int
    issues: int
    themes: int


@dataclass(frozen=True)
class WebItem:
    title: str
    url: str | None  # None when the link is not http(s): shown as text, never as a link
    source: str
    date: str | None  # "24 Nov", feed items only
    blurb: str
    lead: bool = False  # one of the editor's picks: on its issue's page, in the lead block
    image: ImageView | None = None  # a pick's page image


@dataclass(frozen=True)
class WebTheme:
    name: str
    slug: str
    path: str  # the slug as it appears in a URL
    emoji: str | None
    colour: str
    # shown in the email and over its cap alike: the web has room (the issue's page shows the
    # picks in its lead block only, a theme's page under their theme)
    items: tuple[WebItem, ...]


@dataclass(frozen=True)
class WebIssue:
    id: str
    subject: str  # as it was sent: the index's line and the page's title
    sent: datetime  # when readers got it, in the newsletter's time zone
    date: str  # "25 November 2026"
    intro: str
    weeknote_url: str | None
    weeknote_title: str | None
    themes: tuple[WebTheme, ...]
    lead: tuple[WebItem, ...] = ()  # the editor's picks, in order


@dataclass(frozen=True)
class ThemeArchive:
    """One theme across every issue: its latest name and look, and its issues newest first."""

    name: str
    slug: str
    path: str
    emoji: str | None
    entries: tuple[tuple[WebIssue, WebTheme], ...]

    @property
    def count(self) -> int:
        return sum(len(theme.items) for _, theme in self.entries)


def build_site(
    config: Config,
    store: Store,
    now: datetime,
    folder: Path | None = None,
    templates: Path | None = None,
) -> SiteReport:
    """Write the archive of every issue published by `now` into `folder` (default:
    archive.folder beside feeds.yaml), rewriting only files whose bytes changed."""
    base = archive_base(config)
    folder = folder or config.path.parent / config.archive.folder
    records = Ledger(store).issues()
    issues = published_issues(records, now, config)
    themes = theme_archives(issues)
    files = site_files(issues, themes, config, base, template_folders(config, templates))
    written, unchanged, removed = sync_folder(folder, files)
    return SiteReport(folder, written, unchanged, removed, len(issues), len(themes))


def archive_base(config: Config) -> str:
    if not config.email.archive_url:
        raise MissingArchiveUrl(
            "digest archive needs email.archive_url, the address its pages will be served from "
            "(their links, the Atom feed's, and the emails' 'View in your browser' and 'more in "
            "the archive' links use it); until it is set, emails carry none of those links"
        )
    return config.email.archive_url.rstrip("/")


# From the ledger to what the pages show -----------------------------------------------------


def published_issues(
    records: Iterable[IssueRecord], now: datetime, config: Config
) -> list[WebIssue]:
    """The issues readers have received by `now`, newest first."""
    zone = ZoneInfo(config.newsletter.timezone)
    issues = []
    for record in records:
        sent = delivered_at(record)
        if sent is None or sent > now or not ISSUE_ID.fullmatch(record.id):
            continue
        issues.append(web_issue(record, sent.astimezone(zone), config))
    issues.sort(key=lambda issue: (issue.sent, issue.id), reverse=True)
    return issues


def delivered_at(record: IssueRecord) -> datetime | None:
    """When subscribers got the issue: a scheduled send's time, else when the send completed;
    None while it is not completely sent, or when it was cancelled."""
    if record.status != "sent" or not record.sent_at:
        return None
    when = datetime.fromisoformat(record.send_at or record.sent_at)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def web_issue(record: IssueRecord, sent: datetime, config: Config) -> WebIssue:
    issue, zone = record.issue, sent.tzinfo
    accent = config.branding.accent_colour
    themes = tuple(
        web_theme(theme, accent, zone)
        for theme in issue["themes"]
        if SAFE_SLUG.fullmatch(theme.get("slug", ""))
    )
    weeknote_url = issue.get("weeknote_url")
    lead = _lead(issue, zone)
    return WebIssue(
        id=record.id,
        subject=record.subject or issue.get("title", record.id),
        sent=sent,
        date=long_date(sent),
        intro=issue.get("intro") or "",
        weeknote_url=weeknote_url if is_web(weeknote_url) else None,
        weeknote_title=issue.get("weeknote_title"),
        themes=themes,
        lead=lead,
    )


def _lead(issue: dict, zone) -> tuple[WebItem, ...]:
    """The picks (items with a `lead` rank; issues built before picks existed have none), as
    the email shows them: one sentence each, and the page's image."""
    every = [
        i for theme in issue["themes"] for i in (*theme.get("items", ()), *theme.get("more", ()))
    ]
    picks = sorted((item for item in every if item.get("lead")), key=lambda item: item["lead"])
    return tuple(
        dataclasses.replace(
            web_item(item, zone),
            blurb=first_sentence(short_blurb(item.get("title") or "", item.get("blurb") or "")),
            image=image_view(
                item.get("image"),
                item.get("image_width"),
                item.get("image_height"),
                item.get("image_alt"),
            ),
        )
        for item in picks
    )


def web_theme(theme: dict, accent: str, zone) -> WebTheme:
    items = (*theme.get("items", ()), *theme.get("more", ()))
    return WebTheme(
        name=theme["name"],
        slug=theme["slug"],
        path=quote(theme["slug"]),
        emoji=theme.get("emoji"),
        colour=theme.get("colour") or accent,
        items=tuple(web_item(item, zone) for item in items),
    )


def web_item(item: dict, zone) -> WebItem:
    # The day in the newsletter's time zone, as the email shows it (items are stored in UTC).
    published = item.get("published")
    day = published and datetime.fromisoformat(published).astimezone(zone)
    title = item.get("title") or item["url"]
    return WebItem(
        title=title,
        # The item's own link, untagged: utm_medium=email would misreport web visits.
        url=item["url"] if is_web(item.get("url")) else None,
        source=item.get("source") or "",
        date=day and short_date(day),
        blurb=short_blurb(title, item.get("blurb") or ""),
        lead=bool(item.get("lead")),
    )


def theme_archives(issues: list[WebIssue]) -> list[ThemeArchive]:
    """Every theme any published issue has, by name; each keeps its newest name and emoji."""
    entries: dict[str, list[tuple[WebIssue, WebTheme]]] = {}
    for issue in issues:  # newest first, so each list is too
        for theme in issue.themes:
            entries.setdefault(theme.slug, []).append((issue, theme))
    archives = [
        ThemeArchive(found[0][1].name, slug, found[0][1].path, found[0][1].emoji, tuple(found))
        for slug, found in entries.items()
    ]
    return sorted(archives, key=lambda theme: (theme.name.casefold(), theme.slug))


# The files -------------------------------------------------------------------------------------


def site_files(
    issues: list[WebIssue],
    themes: list[ThemeArchive],
    config: Config,
    base: str,
    folders: list[Path],
) -> dict[str, bytes]:
    """Every file of the site, by its path relative to the site's folder."""
    env = _environment(tuple(folders))
    common = _common_context(config, base)
    files = {
        "style.css": _render(env, "web/style.css", common),
        "index.html": _render(
            env, "web/index.html.j2", {**common, "root": "", "issues": issues, "themes": themes}
        ),
        "feed.xml": atom_feed(issues, config, base),
    }
    for issue in issues:
        context = {**common, "root": "../../", "issue": issue}
        files[f"issues/{issue.id}/index.html"] = _render(env, "web/issue.html.j2", context)
    for theme in themes:
        context = {**common, "root": "../../", "theme": theme}
        files[f"themes/{theme.slug}/index.html"] = _render(env, "web/theme.html.j2", context)
    return files


def _common_context(config: Config, base: str) -> dict:
    branding = config.branding
    return {
        "title": config.newsletter.title,
        "base": base,
        "feed_url": f"{base}/feed.xml",
        "logo_url": branding.logo_url,
        "logo_alt": branding.logo_alt or config.newsletter.title,
        "footer_text": branding.footer_text,
        "postal_address": branding.postal_address,
        "subscribe_url": config.newsletter.subscribe_url,
        "palette": palette(branding),
        "dark": dark_palette(branding),
        "fonts": FONTS,
    }


@functools.lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    # The stylesheet is not HTML: escaping would turn the fonts' quotes into entities.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plural"] = plural
    return env


def _render(env: jinja2.Environment, name: str, context: dict) -> bytes:
    try:
        return env.get_template(name).render(context).encode("utf-8")
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found in the templates folders") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{name}: {exc.message or exc}") from None


def atom_feed(issues: list[WebIssue], config: Config, base: str) -> bytes:
    """An Atom feed of the issues: ids and links are the absolute page URLs, times the sends'."""
    from lxml.builder import ElementMaker

    atom = ElementMaker(namespace=ATOM, nsmap={None: ATOM})
    title = fold(config.newsletter.title)
    updated = issues[0].sent if issues else EPOCH
    feed = atom.feed(
        atom.id(f"{base}/"),
        atom.title(title),
        atom.updated(_atom_time(updated)),
        atom.link(rel="self", type="application/atom+xml", href=f"{base}/feed.xml"),
        atom.link(rel="alternate", type="text/html", href=f"{base}/"),
        atom.author(atom.name(title), atom.uri(config.newsletter.website)),
        atom.generator("digest"),
    )
    for issue in issues:
        url = f"{base}/issues/{issue.id}/"
        feed.append(
            atom.entry(
                atom.id(url),
                atom.title(fold(issue.subject)),
                atom.published(_atom_time(issue.sent)),
                atom.updated(_atom_time(issue.sent)),
                atom.link(rel="alternate", type="text/html", href=url),
                atom.summary(_summary(issue)),
            )
        )
    from lxml import etree

    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _atom_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(issue: WebIssue) -> str:
    # fold() also drops the control characters XML cannot hold.
    return fold(issue.intro) or "In this issue: " + ", ".join(t.name for t in issue.themes)


# Writing the folder ----------------------------------------------------------------------------


def sync_folder(folder: Path, files: dict[str, bytes]) -> tuple[int, int, int]:
    """Make `folder` hold `files`: write those whose bytes differ, remove generated pages no
    longer among them. Returns (written, unchanged, removed)."""
    written = unchanged = 0
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if _write_if_changed(folder / name, files[name]):
                written += 1
            else:
                unchanged += 1
        removed = _remove_stale(folder, files)
    except OSError as exc:
        where = exc.filename or folder
        raise ArchiveWriteError(
            f"cannot write the archive in {folder}: {where}: {exc.strerror or exc}"
        ) from None
    return written, unchanged, removed


def _write_if_changed(path: Path, content: bytes) -> bool:
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all, so a web server never serves half a page; readable by that server.
    write_file(path, content, mode=0o644)
    return True


def _remove_stale(folder: Path, files: dict[str, bytes]) -> int:
    """Pages of issues no longer published and themes no longer present; their folders too when
    nothing else is left in them. Other files (a CNAME, robots.txt) are left alone."""
    removed = 0
    for kind in PAGES:
        parent = folder / kind
        if not parent.is_dir():
            continue
        for page in sorted(parent.glob("*/index.html")):
            if f"{kind}/{page.parent.name}/index.html" in files:
                continue
            page.unlink()
            removed += 1
            if not any(page.parent.iterdir()):
                page.parent.rmdir()
    return removed
