"""Fetch one source and store what changed: a feed's new and updated items, or a page's body
(the weeknote), with the source's validators, redirects and failures remembered. Feed bodies are
parsed in worker processes (digest.sources.workers) when there are enough of them."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from concurrent.futures import BrokenExecutor

from digest.core.errors import FeedError, SourceError
from digest.core.models import ParsedFeed, Source, SourceReport
from digest.sources.feeds import parse_feed_safely
from digest.sources.fetch import Fetcher, Slots
from digest.sources.workers import ParsePool

# Below this many sources, parsing in-process is cheaper than starting worker processes.
POOL_THRESHOLD = 4


def parse_pool(sources: list[Source]) -> contextlib.AbstractContextManager[ParsePool | None]:
    """Worker processes to parse in; none for a few sources, cheaper to parse in-process. They
    start at once when a source was never fetched (its body will need parsing), so that their
    start-up overlaps the first requests; else when a body first needs parsing (a run where
    every feed answers 304 starts none)."""
    if len(sources) < POOL_THRESHOLD:
        return contextlib.nullcontext()
    pool = ParsePool()
    if any(source.content_hash is None for source in sources):
        pool.start()
    return pool


class SourceUpdater:
    """One run's fetching and storing of sources: one fetcher, one clock, shared caps."""

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
        # Sources with stored validators have caps of their own, as their requests do: most
        # answer 304 and bring no body, and those that do are at most revalidate_concurrency.
        settings = config.fetch
        self.in_progress = Slots(settings.concurrency, settings.per_host, settings.run_timeout)
        self.revalidating = Slots(
            settings.revalidate_concurrency, settings.revalidate_per_host, settings.run_timeout
        )

    async def update(self, source: Source, is_page: bool = False) -> SourceReport:
        """Fetch one source and store what changed: a feed's items, or a page's body."""
        started = time.monotonic()
        try:
            slots = self.revalidating if source.etag or source.last_modified else self.in_progress
            async with slots.hold(source.url):
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
                note = "; ".join(filter(None, (note, capped_page(self.max_bytes))))
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


def capped_page(max_bytes: int) -> str:
    return f"page cut at {max_bytes:,} bytes (fetch.max_bytes); links after that were not read"
