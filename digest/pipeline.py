"""Wires the stages together. No click, no globals: the config, store, HTTP client and clock are
passed in."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from digest.core.config import Config
from digest.core.errors import FeedError, SourceError
from digest.core.models import Issue, ParsedFeed, Source, SourceHealth, SourceReport
from digest.core.store import Store
from digest.curation import curate
from digest.curation.overrides import load_overrides
from digest.curation.themes import UNMATCHED_HEADING
from digest.curation.tidy import needs_page
from digest.sources.feeds import parse_feed_safely
from digest.sources.fetch import Fetcher, Slots, make_client
from digest.sources.guard import Resolver, system_resolver
from digest.sources.workers import ParsePool

if TYPE_CHECKING:
    from digest.curation.classify import Classifier
    from digest.curation.enrich import PageHead
    from digest.weeknote.extract import Weeknote

# Below this many sources, parsing in-process is cheaper than starting worker processes.
POOL_THRESHOLD = 4
WEEKNOTE, WEEKNOTE_FEED = "Weeknote", "Weeknote feed"
# A source with no successful fetch for this long is stale: its items may be out of date.
STALE_AFTER = timedelta(days=1)


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
    with _parse_pool(len(sources)) as pool:
        return asyncio.run(_fetch_all(config, store, now, client, pool, on_report, sources))


async def _fetch_all(config, store, now, client, pool, on_report, sources):
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        updater = _Updater(config, store, client, now, pool, on_report)
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
    start, end = curate.window(now, config, _last_sent_at(store))
    posts = store.items_between([config.locate(rule.feed)], start, end)
    post = curate.pick_weeknote_post(posts, rule)
    if post is None:
        failure = _last_failure(store, config.locate(rule.feed))
        if failure:
            return f"its feed {rule.feed} could not be downloaded ({failure})"
        return (
            f"no post in {rule.feed} since {start:%Y-%m-%d %H:%M} matches the weeknote rule "
            "(weeknote.title_pattern / weeknote.category)"
        )
    # The post's address comes from the blog, not the operator: the blog feed's address decides
    # where it may lead (digest.sources.guard).
    return dataclasses.replace(store.source(post.link, WEEKNOTE), found_in=config.locate(rule.feed))


def _last_failure(store: Store, key: str) -> str | None:
    """Why the last fetch of a source failed, or None when it did not (or never ran)."""
    row = store.db.execute(
        "SELECT last_status, last_error FROM sources WHERE key = ?", (key,)
    ).fetchone()
    return row["last_error"] if row and row["last_status"] == "error" else None


# How a failed connection reads in a report (digest.sources.fetch, .guard, .links): these are
# what a machine with no network gets from every source, at once.
NO_CONNECTION = ("cannot connect", "timed out (connecting")


def no_network(failures: list[str | None], what: str) -> str | None:
    """One line for the case where every one of `failures` (the errors of two or more sources
    or links on the web, None for one that worked) is a failed connection, as when the machine
    has no network; None otherwise. `what` names them: "sources on the web", "links"."""
    if len(failures) < 2 or not all(
        error and any(sign in error for sign in NO_CONNECTION) for error in failures
    ):
        return None
    return (
        f"no network? none of the {len(failures)} {what} could be reached (first: "
        f"{failures[0]}); check this machine's connection, or work from what the state holds "
        "with --offline"
    )


def unreachable_sources(reports: list[SourceReport]) -> str | None:
    """`no_network` for a fetch: every source on the web (local files aside) failed to
    connect, the weeknote's included."""
    remote = [r for r in reports if r.url and r.url.startswith(("http://", "https://"))]
    return no_network([r.error if r.failed else None for r in remote], "sources on the web")


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
    linked pages it has not cached (through `client` and `resolver`, the address guard's). The
    weeknote's links, and the editor's moves in the overrides file, are kept as labelled
    examples that the theme classifier learns from (digest.curation.examples); `explain` makes its
    reasons name the words and examples behind each choice."""
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    start, end = curate.window(now, config, _last_sent_at(store))
    page = weeknote_page(config, store, now) if config.weeknote else None
    weeknote, warnings = _read_weeknote(config, store, page)
    feeds = {config.locate(f.url): (f.name, f.theme) for f in config.feeds if f.enabled}
    items = store.items_between(list(feeds), start, end)
    heads = _enrich(config, store, now, weeknote, items, feeds, client, resolver)
    classifier = _learn(config, store, now, (weeknote, heads, issue_id), explain)
    candidates = curate.weeknote_candidates(
        weeknote, config, heads, classifier
    ) + curate.feed_candidates(items, feeds, config, heads, classifier)
    unmatched = curate.unmatched_headings(weeknote, config)
    overrides = load_overrides(config.overrides_path(), issue_id, config)
    curated = curate.curate(candidates, store.sent_urls(), overrides, config, unmatched, heads)
    _learn_moves(config, store, now, candidates, overrides, issue_id)
    warnings += [f"weeknote heading {heading!r}: {UNMATCHED_HEADING}" for heading in unmatched]
    return Issue(
        id=issue_id,
        title=config.newsletter.title,
        built_at=now,
        window_start=start,
        window_end=end,
        intro=overrides.intro or weeknote.editorial,
        weeknote_title=weeknote.title or None,
        weeknote_url=page.url if isinstance(page, Source) else None,
        themes=curated.themes,
        sources=tuple(_health(config, store, now, page)),
        warnings=(*warnings, *curated.warnings),
        skipped=curated.skipped,
    )


def _learn(config, store, now, this_week, explain: bool) -> Classifier | None:
    """Keep the weeknote's labelled links (`this_week`: the weeknote, its pages' heads and the
    issue), then train the theme classifier on every example stored, once there are enough to
    say more than the keywords do (classify.MIN_EXAMPLES)."""
    from digest.curation.classify import MIN_EXAMPLES, Classifier  # the stemmer is for builds only
    from digest.curation.examples import load_examples, save_examples, weeknote_examples

    weeknote, heads, issue_id = this_week
    save_examples(
        store, weeknote_examples(weeknote, config.themes, issue_id, heads), "weeknote", now
    )
    examples = load_examples(store)
    if len(examples) < MIN_EXAMPLES:
        return None
    return Classifier.train(examples, config.themes, explain=explain)


def _learn_moves(config, store, now, candidates, overrides, issue_id) -> None:
    """The editor's moves in the overrides file correct the labels of the items they move."""
    from digest.curation.examples import override_examples, save_examples

    moved = override_examples(candidates, overrides, config.themes, issue_id)
    save_examples(store, moved, "override", now)


def _enrich(config, store, now, weeknote, items, feeds, client, resolver) -> dict[str, PageHead]:
    """The enrichment stage: the heads of the pages the weeknote links to, and of feed items
    with no usable summary (digest.curation.enrich), for curation to tidy the items with."""
    from digest.curation.enrich import page_heads  # its parser is for builds, not for digest fetch
    from digest.sources.links import IssueLink

    links = [
        IssueLink(link.url, "weeknote", curate.WEEKNOTE_SOURCE)
        for section in weeknote.sections
        for link in section.links
    ]
    links += [
        IssueLink(item.link, "feed", feeds[item.source][0])
        for item in items
        if needs_page(item.title, item.summary)
    ]
    return page_heads(links, config, store, now, client, resolver)


def save_issue(issue: Issue, folder: Path) -> Path:
    """Write the issue as `<folder>/<id>.json`, whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{issue.id}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(
        issue.to_json(indent=None), encoding="utf-8"
    )  # `digest build --json` indents
    partial.replace(path)
    return path


def _last_sent_at(store: Store) -> datetime | None:
    last = store.last_sent()
    return last[1] if last else None


def _read_weeknote(
    config: Config, store: Store, page: Source | str | None
) -> tuple[Weeknote, list[str]]:
    """The stored weeknote page, extracted, and what went wrong, one line each."""
    # Imported here: the HTML parser costs digest fetch a tenth of a second it does not need.
    from digest.weeknote.extract import Weeknote, extract_weeknote

    empty = Weeknote("", "", (), ())
    if page is None:
        return empty, []
    if isinstance(page, str):
        return empty, [f"weeknote: {page}"]
    stored = store.page(page.key)
    if stored is None:
        return empty, [f"weeknote: {page.url} has not been fetched; run digest fetch"]
    weeknote = extract_weeknote(
        stored.body,
        page.url,
        config.weeknote.selector,
        config.fetch.max_bytes,
        content_type=stored.content_type,
    )
    problems = list(weeknote.problems)
    if len(stored.body) >= config.fetch.max_bytes:
        problems.insert(0, _capped_page(config.fetch.max_bytes))
    return weeknote, [f"weeknote: {problem}" for problem in problems]


def _capped_page(max_bytes: int) -> str:
    return f"page cut at {max_bytes:,} bytes (fetch.max_bytes); links after that were not read"


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


def _parse_pool(sources: int) -> contextlib.AbstractContextManager[ParsePool | None]:
    """Worker processes to parse in, started when a body first needs parsing (a run where
    every feed answers 304 starts none); none for a few sources, cheaper to parse in-process."""
    return ParsePool() if sources >= POOL_THRESHOLD else contextlib.nullcontext()


class _Updater:
    def __init__(self, config, store, client, now, pool, on_report):
        self.store = store
        self.now = now
        self.pool = pool
        self.on_report = on_report or (lambda report: None)
        self.fetcher = Fetcher(client, config.fetch, config.user_agent())
        self.max_bytes = config.fetch.max_bytes
        # The fetcher's slots cap requests; these cap sources in progress, from the request until
        # the items are stored, so at most fetch.concurrency bodies are in memory, however many
        # feeds there are: when parsing falls behind, new fetches wait for it. Capped per host
        # and timed out like the fetcher's, so a stalled host holds back only its own sources.
        settings = config.fetch
        self.in_progress = Slots(settings.concurrency, settings.per_host, settings.run_timeout)

    async def update(self, source: Source, is_page: bool = False) -> SourceReport:
        """Fetch one source and store what changed: a feed's items, or a page's body."""
        started = time.monotonic()
        try:
            async with self.in_progress.hold(source.url):
                report = await self._update(source, is_page)
        except SourceError as exc:
            self.store.record_error(source, exc.message, self.now)
            report = SourceReport(source.name, source.url, "error", error=exc.message)
        report = dataclasses.replace(report, seconds=round(time.monotonic() - started, 3))
        self.on_report(report)
        return report

    async def _update(self, source: Source, is_page: bool) -> SourceReport:
        if source.gone:
            return SourceReport(
                source.name,
                source.url,
                "gone",
                note="retired after HTTP 410; remove it from feeds.yaml",
            )
        fetched = await self.fetcher.fetch(
            source.url,
            source.etag,
            source.last_modified,
            truncate=is_page,
            configured=source.found_in or source.key,
        )
        moved = fetched.moved_to is not None
        if moved:
            source = dataclasses.replace(source, url=fetched.moved_to)
        note = f"moved permanently to {fetched.moved_to}" if moved else None
        if fetched.gone:
            self.store.record_gone(source, self.now)
            return SourceReport(source.name, source.url, "gone", note="HTTP 410: source retired")
        body_hash = hashlib.sha256(fetched.body).hexdigest()
        if fetched.not_modified or body_hash == source.content_hash:
            count = self.store.record_unchanged(
                source,
                fetched.etag or source.etag,
                fetched.last_modified or source.last_modified,
                self.now,
            )
            return SourceReport(
                source.name, source.url, "moved" if moved else "unchanged", items=count, note=note
            )
        status = "moved" if moved else "new"
        if is_page:
            self.store.record_page(
                source,
                fetched.body,
                body_hash,
                fetched.etag,
                fetched.last_modified,
                status,
                self.now,
                # None for a page read from a file: its bytes alone say how to read them.
                content_type=fetched.headers.get("content-type"),
            )
            if fetched.truncated:
                note = "; ".join(filter(None, (note, _capped_page(self.max_bytes))))
            return SourceReport(source.name, source.url, status, note=note)
        parsed = await self._parse(
            fetched.body, fetched.url, source.key, fetched.headers.get("content-type")
        )
        total, new = self.store.record_items(
            source, parsed.items, body_hash, fetched.etag, fetched.last_modified, status, self.now
        )
        notes = "; ".join(filter(None, (note, parsed.note))) or None
        return SourceReport(
            source.name,
            source.url,
            status,
            total,
            new,
            note=notes,
            parse_seconds=round(parsed.cpu_seconds, 4),
        )

    async def _parse(self, body: bytes, url: str, key: str, content_type: str | None) -> ParsedFeed:
        args = (body, url, key, content_type, self.now)
        if self.pool is None:
            result = parse_feed_safely(*args)
        else:
            try:
                result = await self.pool.run(parse_feed_safely, *args)
            except BrokenExecutor:
                raise FeedError("the parser process died (out of memory?)") from None
        if isinstance(result, str):
            raise FeedError(result)
        return result
