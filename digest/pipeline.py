"""Wires the stages together. No click, no globals: the config, store, HTTP client and clock are
passed in."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from datetime import datetime

import httpx

from digest.config import Config
from digest.errors import FeedError, SourceError
from digest.feeds import parse_feed_safely
from digest.fetch import Fetcher, make_client
from digest.models import ParsedFeed, Source, SourceReport
from digest.store import Store

# Below this many sources, parsing in-process is cheaper than starting worker processes.
POOL_THRESHOLD = 4


def feed_sources(config: Config, store: Store) -> list[Source]:
    """The enabled feeds of the config, each with its remembered state."""
    return [
        store.source(config.locate(feed.url), feed.name, feed.theme)
        for feed in config.feeds
        if feed.enabled
    ]


def fetch_feeds(
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Fetch, parse and store every enabled feed concurrently; one report per feed, in config
    order. A failing source is reported and never stops the others."""
    sources = feed_sources(config, store)
    pool = _parse_pool() if len(sources) >= POOL_THRESHOLD else None
    try:
        return asyncio.run(_fetch_all(config, store, now, client, pool, on_report, sources))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


async def _fetch_all(config, store, now, client, pool, on_report, sources):
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        updater = _Updater(config, store, client, now, pool, on_report)
        return list(await asyncio.gather(*(updater.update(source) for source in sources)))


def _parse_pool() -> Executor:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the workers must not inherit the parent's threads or open database handle.
    # At most four: each costs ~30 MB and ~0.1 s to start, and the event loop needs a core too.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=min(os.cpu_count() or 2, 4), mp_context=context)


class _Updater:
    def __init__(self, config, store, client, now, pool, on_report):
        self.store = store
        self.now = now
        self.pool = pool
        self.on_report = on_report or (lambda report: None)
        self.fetcher = Fetcher(client, config.fetch, config.user_agent())

    async def update(self, source: Source) -> SourceReport:
        started = time.monotonic()
        try:
            report = await self._update(source)
        except SourceError as exc:
            self.store.record_error(source, exc.message, self.now)
            report = SourceReport(source.name, source.url, "error", error=exc.message)
        report = dataclasses.replace(report, seconds=round(time.monotonic() - started, 3))
        self.on_report(report)
        return report

    async def _update(self, source: Source) -> SourceReport:
        if source.gone:
            return SourceReport(
                source.name,
                source.url,
                "gone",
                note="retired after HTTP 410; remove it from feeds.yaml",
            )
        fetched = await self.fetcher.fetch(source.url, source.etag, source.last_modified)
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
        parsed = await self._parse(
            fetched.body, fetched.url, source.key, fetched.headers.get("content-type")
        )
        status = "moved" if moved else "new"
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
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(self.pool, parse_feed_safely, *args)
            except BrokenExecutor:
                raise FeedError("the parser process died (out of memory?)") from None
        if isinstance(result, str):
            raise FeedError(result)
        return result
