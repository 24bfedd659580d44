"""Labelled examples for the theme classifier, kept in the state database (theme_examples).

A weeknote is an editor's judgement: every link under a heading that names a configured theme
is an example of that theme. Links of the editorial and of headings no theme claims teach
nothing and are left out. One row per canonical URL: a newer label replaces an older one (the
editor changed their mind, or a partner's item was filed again), and records the issue or page
it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest.core.errors import DigestError, SourceError
from digest.core.models import IssueItem, Item
from digest.core.settings import Config, Theme
from digest.core.text import fold, normalise_heading
from digest.core.urls import canonical_url, domain_of
from digest.curation.classify import Example
from digest.curation.curate import pick_weeknote_post
from digest.curation.overrides import IssueOverrides
from digest.curation.themes import ThemeChoice, theme_for_heading
from digest.sources.fetch import Fetcher, make_client

if TYPE_CHECKING:
    import httpx

    from digest.core.store import Store
    from digest.curation.heads import PageHead
    from digest.weeknote.model import Weeknote

ORIGINS = ("weeknote", "override", "learn")
# Sub-heading levels read under a heading that names no theme: one (an h3 under its h2).
DEPTH = 1
HEADINGS_SHOWN = 4  # headings named when a page taught nothing
_UPSERT = """
    INSERT INTO theme_examples
        (canonical_url, theme, text, title, context, domain, issue, origin, updated)
    VALUES (:canonical_url, :theme, :text, :title, :context, :domain, :issue, :origin, :updated)
    ON CONFLICT (canonical_url) DO UPDATE SET
        theme = excluded.theme, text = excluded.text, title = excluded.title,
        context = excluded.context, domain = excluded.domain, issue = excluded.issue,
        origin = excluded.origin, updated = excluded.updated
    -- the same label again (each build of one weeknote) keeps the issue it first came from
    WHERE theme_examples.theme != excluded.theme OR theme_examples.text != excluded.text
        OR theme_examples.title IS NOT excluded.title
"""


def weeknote_examples(
    weeknote: Weeknote,
    themes: Sequence[Theme],
    issue: str | None,
    heads: Mapping[str, PageHead] | None = None,
    depth: int = DEPTH,
) -> list[tuple[str, Example]]:
    """(canonical URL, example) for every link under a heading that names a configured theme:
    its section's heading, or when that names none, the innermost of its first `depth`
    sub-headings that does ("Updates from the community", then "Newsletters"). An example is
    the link's title, and as context its blurb and its page's title and description when
    enrichment read them (`heads`, by URL)."""
    heads = heads or {}
    found = []
    for section in weeknote.sections:
        if not section.heading:
            continue  # the editorial: no heading, no label
        choice = theme_for_heading(section.heading, themes)
        for link in section.links:
            theme = _label(choice, link.subheadings[:depth], themes)
            if theme is None:
                continue
            head = heads.get(link.url)
            page = (head.title or "", head.description or "") if head else ()
            context = fold(" ".join(filter(None, (link.blurb, *page))))
            example = Example(theme, fold(link.title), context, link.canonical_url, issue)
            found.append((link.canonical_url, example))
    return found


def _label(section: ThemeChoice, subheadings: Sequence[str], themes: Sequence[Theme]):
    """The configured theme a link is filed under, or None."""
    if not section.new_theme:
        return section.theme
    for heading in reversed(subheadings):
        choice = theme_for_heading(heading, themes)
        if not choice.new_theme:
            return choice.theme
    return None


def override_examples(
    items: Iterable[IssueItem], overrides: IssueOverrides, themes: Sequence[Theme], issue: str
) -> list[tuple[str, Example]]:
    """(canonical URL, example) for each item the editor moved to a configured theme in the
    overrides file: a correction of the label its section or the classifier gave it."""
    names = {normalise_heading(theme.name): theme.name for theme in themes}
    moved = {
        canonical_url(o.url): names.get(normalise_heading(o.theme))
        for o in overrides.items
        if o.theme and not o.drop
    }
    return [
        (
            item.canonical_url,
            Example(theme, fold(item.title), fold(item.blurb), item.canonical_url, issue),
        )
        for item in items
        if (theme := moved.get(item.canonical_url))
    ]


def save_examples(
    store: Store, labelled: Iterable[tuple[str, Example]], origin: str, now: datetime
) -> Counter[str]:
    """Upsert examples by canonical URL in one transaction; how many new or changed labels
    each theme got."""
    rows = [
        {
            "canonical_url": url,
            "theme": example.theme,
            "text": example.text,
            "title": example.title,
            "context": example.context,
            "domain": domain_of(example.url),
            "issue": example.issue,
            "origin": origin,
            "updated": now.isoformat(),
        }
        for url, example in labelled
    ]
    gained: Counter[str] = Counter()
    with store.transaction() as db:
        for row in rows:
            gained[row["theme"]] += db.execute(_UPSERT, row).rowcount
    return +gained


def load_examples(store: Store) -> list[Example]:
    """Every stored example, in the order they were first stored (so an issue's place is
    where it was learnt). A row stored before titles were kept apart has its text as title."""
    rows = store.db.execute(
        "SELECT theme, coalesce(title, text) AS title, coalesce(context, '') AS context, "
        "canonical_url, issue FROM theme_examples ORDER BY rowid"
    )
    return [
        Example(row["theme"], row["title"], row["context"], row["canonical_url"], row["issue"])
        for row in rows
    ]


def forget_examples(store: Store, urls: Sequence[str], pages: Sequence[str] = ()) -> int:
    """Delete the examples of `urls` (matched by canonical URL) and of every link learnt from
    `pages` (as `learn_pages` names them: a URL, or a path made absolute); how many."""
    keys = [canonical_url(url) for url in urls]
    issues = [_location(page) for page in pages]
    removed = 0
    with store.transaction() as db:
        for key in keys:
            removed += db.execute(
                "DELETE FROM theme_examples WHERE canonical_url = ?", (key,)
            ).rowcount
        for issue in issues:
            removed += db.execute("DELETE FROM theme_examples WHERE issue = ?", (issue,)).rowcount
    return removed


def example_counts(store: Store, themes: Sequence[Theme] = ()) -> dict[str, int]:
    """Examples per stored theme name; with `themes`, keyed by the configured names (any case
    and punctuation of a stored name counts for the theme it normalises to), zeros included."""
    rows = store.db.execute("SELECT theme, count(*) AS n FROM theme_examples GROUP BY theme")
    stored = {row["theme"]: row["n"] for row in rows}
    if not themes:
        return stored
    counts = {theme.name: 0 for theme in themes}
    by_key = {normalise_heading(theme.name): theme.name for theme in themes}
    for name, count in stored.items():
        configured = by_key.get(normalise_heading(name))
        if configured is not None:
            counts[configured] += count
    return counts


@dataclass(frozen=True)
class PageLesson:
    """What one weeknote page taught: examples per theme, or why it could not be read."""

    url: str
    gained: Counter[str]
    problem: str | None = None


def learn_pages(
    config: Config,
    store: Store,
    locations: Sequence[str],
    now: datetime,
    client: httpx.AsyncClient | None = None,
    depth: int = DEPTH,
) -> list[PageLesson]:
    """Fetch each weeknote page (a URL, or a path relative to the working folder), extract it
    and store its links as examples (weeknote_examples, reading `depth` sub-heading levels), in
    the order given: a later page's label wins."""
    urls = [_location(loc) for loc in locations]
    pages = asyncio.run(_fetch_pages(config, [(url, url) for url in urls], client))
    return [
        _learn_page(config, store, url, page, now, depth)
        for url, page in zip(urls, pages, strict=True)
    ]


def backfill(
    config: Config,
    store: Store,
    count: int,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    depth: int = DEPTH,
) -> list[PageLesson]:
    """Learn from the newest `count` posts of weeknote.feed that its rule picks, oldest first,
    so the newest editor's label of a link is the one kept."""
    rule = config.weeknote
    if rule is None or not rule.feed:
        raise DigestError(
            "no weeknote.feed in feeds.yaml to backfill from",
            "set weeknote.feed (and title_pattern or category), or name the pages to learn from",
        )
    feed_url = config.locate(rule.feed)
    (body,) = asyncio.run(_fetch_pages(config, [(feed_url, feed_url)], client))
    if isinstance(body, str):
        raise DigestError(f"cannot read the weeknote feed {feed_url}: {body}")
    posts = _weeknote_posts(body, feed_url, rule, count, now)
    # A post's address comes from the blog: the guard judges it by the feed's address.
    pages = asyncio.run(_fetch_pages(config, [(p.link, feed_url) for p in posts], client))
    lessons = [
        _learn_page(config, store, p.link, page, now, depth)
        for p, page in zip(posts, pages, strict=True)
    ]
    return lessons


def _weeknote_posts(body: bytes, feed_url: str, rule, count: int, now: datetime) -> list[Item]:
    from digest.sources.feeds import parse_feed_safely

    parsed = parse_feed_safely(body, feed_url, feed_url, None, now)
    if isinstance(parsed, str):
        raise DigestError(f"cannot read the weeknote feed {feed_url}: {parsed}")
    remaining = sorted(parsed.items, key=lambda item: item.published or now, reverse=True)
    picked: list[Item] = []
    while len(picked) < count:
        post = pick_weeknote_post(remaining, rule)
        if post is None:
            break
        picked.append(post)
        remaining = remaining[remaining.index(post) + 1 :]
    return picked[::-1]


async def _fetch_pages(config: Config, targets, client) -> list[bytes | str]:
    """The body of each (url, configured) target, or why it could not be had, one line."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        fetcher = Fetcher(client, config.fetch, config.user_agent())

        async def one(url: str, configured: str) -> bytes | str:
            try:
                fetched = await fetcher.fetch(url, truncate=True, configured=configured)
            except SourceError as exc:
                return exc.message
            return "gone (HTTP 410)" if fetched.gone else fetched.body

        return await asyncio.gather(*(one(url, configured) for url, configured in targets))


def _learn_page(config: Config, store: Store, url, page: bytes | str, now, depth: int):
    from digest.weeknote.extract import extract_weeknote

    if isinstance(page, str):
        return PageLesson(url, Counter(), page)
    selector = config.weeknote.selector if config.weeknote else None
    weeknote = extract_weeknote(page, url, selector, config.fetch.max_bytes)
    labelled = weeknote_examples(weeknote, config.themes, url, depth=depth)
    if not labelled:
        return PageLesson(url, Counter(), _why_nothing(weeknote, depth))
    return PageLesson(url, save_examples(store, labelled, "learn", now))


def _why_nothing(weeknote: Weeknote, depth: int) -> str:
    """Why a page gave no example, in a line: what extraction found wrong, or the headings over
    its links, none naming a theme."""
    headed = [section.heading for section in weeknote.sections if section.heading and section.links]
    if not headed:
        return "; ".join(weeknote.problems) or "no links under a heading"
    shown = ", ".join(repr(heading) for heading in headed[:HEADINGS_SHOWN])
    more = f" and {len(headed) - HEADINGS_SHOWN} more" if len(headed) > HEADINGS_SHOWN else ""
    levels = "level" if depth == 1 else "levels"
    return (
        f"no heading over its links names a theme ({shown}{more}), nor a sub-heading "
        f"{depth} {levels} below: add aliases to feeds.yaml, or learn with a larger --depth"
    )


def _location(page: str) -> str:
    """A page's URL, or a path's as a file: URL (the issue its examples are stored under)."""
    if "://" in page or page.startswith("file:"):
        return page
    return Path(page).resolve().as_uri()
