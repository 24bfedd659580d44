"""Wires the stages together. No click, no globals: the config, store, HTTP client and clock are
passed in."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from digest.core.files import write_file
from digest.core.models import (
    WEEKNOTE,
    WEEKNOTE_FEED,
    Issue,
    Source,
    SourceHealth,
    SourceReport,
)
from digest.core.settings import Config
from digest.core.store import Store
from digest.sources.fetch import make_client, no_network
from digest.sources.guard import Resolver, system_resolver
from digest.sources.update import SourceUpdater, capped_page, parse_pool
from digest.weeknote.model import Weeknote

if TYPE_CHECKING:
    import httpx

    from digest.curation import curate
    from digest.curation.classify import Classifier
    from digest.curation.enrich import Enrichment, PageHead
    from digest.curation.overrides import IssueOverrides
    from digest.email.render import RenderedEmail
    from digest.sources.links import IssueLink

# The curation stage is imported inside the functions that build: `digest fetch` needs none of
# it, and its stemmer and classifier take about a tenth of a second to import.

# A source with no successful fetch for this long is stale: its items may be out of date.
STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Preview:
    """An issue and its email, as built and rendered for the preview and the send."""

    issue: Issue
    email: RenderedEmail
    # For a week already sent, when it went: the issue and email are then the frozen copy.
    sent: str | None = None


def feed_sources(config: Config, store: Store) -> list[Source]:
    """The enabled feeds of the config, each with its remembered state."""
    return [
        store.source(config.locate(feed.url), feed.name, feed.theme)
        for feed in config.feeds
        if feed.enabled
    ]


def source_count(config: Config) -> int:
    """How many reports fetch_sources will make: the enabled feeds and the weeknote's sources."""
    weeknote = config.weeknote
    return sum(feed.enabled for feed in config.feeds) + (
        0 if weeknote is None else 1 + bool(weeknote.feed)
    )


def fetch_sources(
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Fetch every enabled feed and the weeknote concurrently and store what changed; one report
    per source, feeds in config order, then the weeknote. A failing source is reported and never
    stops the others."""
    sources = feed_sources(config, store)
    with parse_pool(sources) as pool, store.unflushed():
        return asyncio.run(_fetch_all(config, store, now, client, pool, on_report, sources))


async def _fetch_all(config, store, now, client, pool, on_report, sources):
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        updater = SourceUpdater(config, store, client, now, pool, on_report)
        feeds = asyncio.gather(*(updater.update(source) for source in sources))
        weeknote = _fetch_weeknote(config, store, now, updater)
        feed_reports, weeknote_reports = await asyncio.gather(feeds, weeknote)
        return [*feed_reports, *weeknote_reports]


async def _fetch_weeknote(config, store, now, updater) -> list[SourceReport]:
    """The weeknote page; in feed mode, the blog feed first and then the post it announces."""
    rule = config.weeknote
    if rule is None:
        return []
    reports = []
    if rule.feed:
        reports.append(await updater.update(store.source(config.locate(rule.feed), WEEKNOTE_FEED)))
    page = weeknote_page(config, store, now)
    if isinstance(page, str):
        reports.append(SourceReport(WEEKNOTE, rule.feed, "error", error=page))
        updater.on_report(reports[-1])
    else:
        reports.append(await updater.update(page, is_page=True))
    return reports


def weeknote_page(config: Config, store: Store, now: datetime) -> Source | str:
    """The weeknote page as a source, or why there is none: in feed mode, the newest matching
    post in this issue's window."""
    rule = config.weeknote
    if rule.url:
        return store.source(config.locate(rule.url), WEEKNOTE)
    from digest.curation import curate

    start, end = curate.window(now, config, _last_sent_at(store))
    posts = store.items_between([config.locate(rule.feed)], start, end)
    post = curate.pick_weeknote_post(posts, rule)
    if post is None:
        failure = store.last_failure(config.locate(rule.feed))
        if failure:
            return f"its feed {rule.feed} could not be downloaded ({failure})"
        return (
            f"no post in {rule.feed} since {start:%Y-%m-%d %H:%M} matches the weeknote rule "
            "(weeknote.title_pattern / weeknote.category)"
        )
    # The post's address comes from the blog, not the operator: the blog feed's address decides
    # where it may lead (digest.sources.guard).
    return dataclasses.replace(store.source(post.link, WEEKNOTE), found_in=config.locate(rule.feed))


def unreachable_sources(reports: list[SourceReport], instead: str = "") -> str | None:
    """`no_network` for a fetch: every source on the web (local files aside) failed to
    connect, the weeknote's included; `instead` says what the command can do without them."""
    remote = [r for r in reports if r.url and r.url.startswith(("http://", "https://"))]
    failures = [r.error if r.failed else None for r in remote]
    return no_network(failures, "sources on the web", instead)


def build_issue(
    config: Config,
    store: Store,
    now: datetime,
    issue_id: str | None = None,
    client: httpx.AsyncClient | None = None,
    resolver: Resolver = system_resolver,
    explain: bool = False,
) -> Issue:
    """This week's issue from what the state holds (fetch_sources refreshes it first). Building
    never changes what the next send includes; with `config.enrich.online` it reads the heads of
    the shown items' pages it has not cached (through `client` and `resolver`, the address
    guard's), within enrichment's bounds (enrich.deadline, enrich.max_per_host). The
    weeknote's links, and the editor's moves in the overrides file, are kept as labelled
    examples that the theme classifier learns from (digest.curation.examples); `explain` makes its
    reasons name the words and examples behind each choice."""
    from digest.curation import curate
    from digest.curation.overrides import load_overrides
    from digest.curation.themes import UNMATCHED_HEADING

    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    start, end = curate.window(now, config, _last_sent_at(store))
    page = weeknote_page(config, store, now) if config.weeknote else None
    weeknote, warnings = _read_weeknote(config, store, page)
    feeds = {config.locate(f.url): (f.name, f.theme) for f in config.feeds if f.enabled}
    items = store.items_between(list(feeds), start, end)
    overrides = load_overrides(config.overrides_path(), issue_id, config)
    stale_since = _sent_before(store, issue_id, weeknote.identity())
    stale = stale_since and config.weeknote.stale
    if stale_since:
        warnings.append(_stale_warning(stale_since, stale))
    intro = overrides.intro or ("" if stale == "send-without" else weeknote.editorial)
    unmatched = curate.unmatched_headings(weeknote, config)
    week = _Week(config, weeknote, items, feeds, overrides, store.sent_urls(), intro, unmatched)
    curated, notes = _curate_enriched(week, store, now, issue_id, explain, (client, resolver))
    warnings += [f"weeknote heading {heading!r}: {UNMATCHED_HEADING}" for heading in unmatched]
    warnings += [f"enrichment: {note}" for note in notes]
    return Issue(
        id=issue_id,
        title=config.newsletter.title,
        built_at=now,
        window_start=start,
        window_end=end,
        intro=intro,
        weeknote_title=weeknote.title or None,
        weeknote_url=page.url if isinstance(page, Source) else None,
        themes=curated.themes,
        sources=tuple(_health(config, store, now, page)),
        warnings=(*warnings, *curated.warnings),
        skipped=curated.skipped,
        weeknote_hash=weeknote.identity(),
        stale_since=stale_since,
        subject=overrides.subject,
        preheader=overrides.preheader,
        intro_note=overrides.intro_note or "",
        top_story=curated.top_story,
    )


def _sent_before(store: Store, issue_id: str, identity: str | None) -> str | None:
    """The latest issue before `issue_id` that was sent with this very weeknote."""
    if identity is None:
        return None
    row = store.db.execute(
        "SELECT id FROM issues WHERE status = 'sent' AND id < ?"
        " AND json_extract(issue_json, '$.weeknote_hash') = ? ORDER BY id DESC LIMIT 1",
        (issue_id, identity),
    ).fetchone()
    return row[0] if row else None


def _stale_warning(sent_in: str, policy: str) -> str:
    then = {
        "hold": "digest send holds this issue until a new one is out (weeknote.stale: hold)",
        "send-without": "this issue goes without its editorial (weeknote.stale: send-without)",
        "warn": "it would go out again (weeknote.stale: warn)",
    }[policy]
    return f"weeknote: the same weeknote was sent in issue {sent_in}; {then}"


@dataclass(frozen=True)
class _Week:
    """This week's material, curated again each time enrichment learns more of its pages."""

    config: Config
    weeknote: Weeknote
    items: list
    feeds: dict[str, tuple[str, str | None]]  # source key -> (feed name, default theme)
    overrides: IssueOverrides
    sent: dict[str, str]  # canonical URL -> the sent issue that included it
    intro: str  # the editorial the email opens with
    unmatched: list[str]  # weeknote headings no theme claims

    def curate(self, heads, classifier) -> tuple[list, curate.Curated]:
        """(candidates, the curated issue) with these pages' heads and this classifier."""
        from digest.curation import curate

        config, weeknote = self.config, self.weeknote
        candidates = curate.weeknote_candidates(
            weeknote, config, heads, classifier
        ) + curate.feed_candidates(self.items, self.feeds, config, heads, classifier)
        return candidates, curate.curate(
            candidates, self.sent, self.overrides, config, self.unmatched, heads, self.intro
        )


def _curate_enriched(week: _Week, store, now, issue_id, explain, web) -> tuple:
    """(curated issue, enrichment's notes): curated with the heads the cache holds, then the
    pages of the items the email shows are read (`web`: the HTTP client and the resolver) and
    the week curated again with them. What the weeknote's links teach is kept on the way."""
    config, weeknote = week.config, week.weeknote
    links = _page_links(weeknote, week.items, week.feeds)
    heads = _known_heads(config, store, now, links)
    classifier = _learn(config, store, now, (weeknote, heads, issue_id), explain)
    candidates, curated = week.curate(heads, classifier)
    notes: tuple[str, ...] = ()
    if config.enrich.enabled and config.enrich.online:
        enrichment = _enrich(config, store, now, _shown_links(curated, links), *web)
        notes = enrichment.notes
        if enrichment.heads.keys() - heads.keys():
            heads = {**heads, **enrichment.heads}
            _keep_examples(config, store, now, (weeknote, heads, issue_id))
            candidates, curated = week.curate(heads, classifier)
    _learn_moves(config, store, now, candidates, week.overrides, issue_id)
    return curated, notes


def _learn(config, store, now, this_week, explain: bool) -> Classifier | None:
    """Keep the weeknote's labelled links (`this_week`: the weeknote, its pages' heads and the
    issue), then the theme classifier learnt from every example stored, once there are enough to
    say more than the keywords do (classify.MIN_EXAMPLES): the one the state keeps for these
    examples, else one trained, calibrated and kept (digest.curation.model_cache)."""
    # Imported here: the stemmer and the classifier are for builds only.
    from digest.curation.classify import MIN_EXAMPLES, Classifier
    from digest.curation.evaluate import configured
    from digest.curation.examples import load_examples
    from digest.curation.model_cache import cached_classifier

    _keep_examples(config, store, now, this_week)
    examples = configured(load_examples(store), config.themes)
    if len(examples) < MIN_EXAMPLES:
        return None
    share = config.curation.catch_all_share
    classifier = cached_classifier(store, examples, config.themes, share, now)
    if not explain:
        return classifier
    threshold = classifier.threshold  # the kept model's, so --explain decides as builds do
    return Classifier.train(examples, config.themes, threshold=threshold, explain=True)


def _keep_examples(config, store, now, this_week) -> None:
    """The weeknote's links stored as labelled examples, with what their pages' heads say."""
    from digest.curation.examples import save_examples, weeknote_examples

    weeknote, heads, issue_id = this_week
    save_examples(
        store, weeknote_examples(weeknote, config.themes, issue_id, heads), "weeknote", now
    )


def _learn_moves(config, store, now, candidates, overrides, issue_id) -> None:
    """The editor's moves in the overrides file correct the labels of the items they move."""
    from digest.curation.examples import override_examples, save_examples

    moved = override_examples(candidates, overrides, config.themes, issue_id)
    save_examples(store, moved, "override", now)


def _page_links(weeknote, items, feeds) -> dict[str, IssueLink]:
    """Every candidate whose page enrichment may read, by URL: the weeknote's links, and feed
    items with no usable summary."""
    from digest.curation.tidy import needs_page
    from digest.sources.links import IssueLink

    links = [
        IssueLink(link.url, "weeknote", WEEKNOTE)
        for section in weeknote.sections
        for link in section.links
    ]
    links += [
        IssueLink(item.link, "feed", feeds[item.source][0])
        for item in items
        if needs_page(item.title, item.summary)
    ]
    found: dict[str, IssueLink] = {}
    for link in links:
        found.setdefault(link.url, link)  # a URL twice: its first place counts
    return found


def _known_heads(config, store, now, links: dict[str, IssueLink]) -> dict[str, PageHead]:
    """What is known of these links' pages without asking the network: with enrich.online,
    the cache's fresh heads (enough to curate once and learn which items the email shows);
    offline or with enrichment off, every link's answer (the cache's, or why there is none)."""
    from digest.curation.enrich import cached_heads, page_heads  # builds only, not digest fetch

    if config.enrich.enabled and config.enrich.online:
        return cached_heads(list(links), store, now)
    return page_heads(list(links.values()), config, store, now).heads


def _shown_links(curated, links: dict[str, IssueLink]) -> list[IssueLink]:
    """The links of the items the email shows, the editor's picks first, then theme by theme:
    the order in which enrichment's bounds spend their time."""
    picks = (item for theme in curated.themes for item in theme.items + theme.more if item.lead)
    shown = sorted(picks, key=lambda item: item.lead)
    shown += [item for theme in curated.themes for item in theme.items if not item.lead]
    return [links[item.url] for item in shown if item.url in links]


def _enrich(config, store, now, links, client, resolver) -> Enrichment:
    """The enrichment stage on the web: the heads of the shown items' pages, from the cache or
    read now (digest.curation.enrich), for curation to tidy the items with."""
    from digest.curation.enrich import page_heads

    return page_heads(links, config, store, now, client, resolver)


def save_issue(issue: Issue, folder: Path) -> Path:
    """Write the issue as `<folder>/<id>.json`, whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{issue.id}.json"
    write_file(path, issue.to_json(indent=None))  # `digest build --json` indents
    return path


def _last_sent_at(store: Store) -> datetime | None:
    last = store.last_sent()
    return last[1] if last else None


def _read_weeknote(
    config: Config, store: Store, page: Source | str | None
) -> tuple[Weeknote, list[str]]:
    """The stored weeknote page, extracted, and what went wrong, one line each."""
    empty = Weeknote("", "", (), ())
    if page is None:
        return empty, []
    if isinstance(page, str):
        return empty, [f"weeknote: {page}"]
    stored = store.page(page.key)
    if stored is None:
        return empty, [f"weeknote: {page.url} has not been fetched; run digest fetch"]
    # Imported only for a page to read: the HTML parser takes a tenth of a second to load.
    from digest.weeknote.extract import extract_weeknote

    weeknote = extract_weeknote(
        stored.body,
        page.url,
        config.weeknote.selector,
        config.fetch.max_bytes,
        content_type=stored.content_type,
    )
    problems = list(weeknote.problems)
    if len(stored.body) >= config.fetch.max_bytes:
        problems.insert(0, capped_page(config.fetch.max_bytes))
    return weeknote, [f"weeknote: {problem}" for problem in problems]


def _health(
    config: Config, store: Store, now: datetime, page: Source | str | None
) -> list[SourceHealth]:
    """The last fetch of every configured source, feeds first, then the weeknote's."""
    rows = {row["key"]: row for row in store.sources()}
    keys = [(config.locate(feed.url), feed.name) for feed in config.feeds if feed.enabled]
    if config.weeknote is not None and config.weeknote.feed:
        keys.append((config.locate(config.weeknote.feed), WEEKNOTE_FEED))
    if isinstance(page, Source):
        keys.append((page.key, WEEKNOTE))
    health = []
    for key, name in keys:
        row = rows.get(key)
        last_ok = row["last_ok"] if row else None
        stale = last_ok is None or now - datetime.fromisoformat(last_ok) > STALE_AFTER
        status = row["last_status"] if row else "never"
        error = row["last_error"] if row else "never fetched"
        health.append(SourceHealth(name, row["url"] if row else key, status, error, last_ok, stale))
    return health
