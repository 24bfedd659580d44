"""Enrichment: what a linked page says of itself in its <head> (title, description, publisher,
canonical URL, image), read politely and cached, so the issue's items can read as an editor
would write them (digest.curation.tidy decides how they are used).

The pipeline asks only for the links the email will show (after duplicates and caps), most
important first. Fresh heads come from the cache; the rest are read from the network within the
build's bounds (digest.curation.page_reader: a deadline, a share per host, a network that is
down). Results go into `page_heads`, reused for 30 days (errors for a day), and every answer is
also kept as the link's check in `link_checks`, so `digest links` after a build asks nothing
again. Without `enrich.online` (--offline, and every command that only reads the state) nothing
is requested: the cache is all there is. Whatever the cache holds is checked again as it comes
out (URLs web and within MAX_URL_LENGTH, texts folded, images plausible), since older versions
of digest wrote it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from digest.core.settings import Config
from digest.core.store import Store
from digest.core.text import fold
from digest.core.urls import MAX_URL_LENGTH, host_of, reserved_host
from digest.curation.heads import PageHead
from digest.curation.page_reader import read_heads, safe_image, without_image
from digest.sources.guard import Resolver, literal_address, non_public, system_resolver
from digest.sources.links import IssueLink, record_answers

REUSE = timedelta(days=30)
REUSE_ERROR = timedelta(days=1)


@dataclass(frozen=True)
class Enrichment:
    """A head for every link asked about (the reason there is none as its error), how many
    were left unread by the build's bounds, and one line per bound that did."""

    heads: dict[str, PageHead]
    unread: int = 0
    notes: tuple[str, ...] = ()


def page_heads(
    links: Iterable[IssueLink],
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    resolver: Resolver = system_resolver,
) -> Enrichment:
    """The head of each link (in order of importance): from the cache, else (with
    enrich.online) from the page, else a PageHead whose error says why there is none."""
    unique = {link.url: link for link in links}
    if not config.enrich.enabled:
        off = "enrichment is off (--no-enrich, or enrich.enabled: false)"
        return Enrichment({url: PageHead(url, error=off) for url in unique})
    heads = {url: PageHead(url, error=why) for url in unique if (why := _unreadable(url))}
    heads.update(cached_heads([url for url in unique if url not in heads], store, now))
    web = [link for url, link in unique.items() if url not in heads]
    unread, notes = 0, ()
    if web and config.enrich.online:
        reading = asyncio.run(read_heads(web, config, now, client, resolver))
        _save(store, reading.keep, now)
        record_answers(reading.answers, config, store, now)
        heads.update(reading.heads)
        heads.update(reading.unread)
        unread, notes = len(reading.unread), reading.notes
    for url in unique:
        heads.setdefault(url, PageHead(url, error="offline, nothing cached"))
    return Enrichment(heads, unread, notes)


def _unreadable(url: str) -> str | None:
    """Why a link has no page to read, known without asking the network."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # an address such as http://[oops/
        return "not a usable URL"
    if parts.scheme not in ("http", "https"):
        return "not an http(s) link"
    if reserved_host(url):
        return f"{host} is a reserved name (RFC 2606): no public site answers there"
    return None


# The cache


def cached_heads(urls: list[str], store: Store, now: datetime) -> dict[str, PageHead]:
    """The heads of these URLs still fresh: read in the last 30 days, or failed in the last."""
    rows = store.db.execute(
        "SELECT * FROM page_heads WHERE url IN (SELECT value FROM json_each(?)) AND fetched_at > ?",
        (json.dumps(urls), _stamp(now - REUSE)),
    )
    heads = {}
    for row in rows:
        head = PageHead(**{f.name: row[f.name] for f in fields(PageHead) if f.name != "fetched_at"})
        fetched_at = datetime.fromisoformat(row["fetched_at"])
        if head.error is None or now - fetched_at < REUSE_ERROR:
            heads[head.url] = dataclasses.replace(checked(head), fetched_at=fetched_at)
    return heads


def checked(head: PageHead) -> PageHead:
    """A cached head held to today's rules: its URLs web ones within MAX_URL_LENGTH, its texts
    one plain line, its image https, plausible and not on a literal non-public address."""
    texts = {name: getattr(head, name) for name in ("title", "description", "publisher")}
    head = dataclasses.replace(
        head,
        final_url=_web(head.final_url),
        canonical=_web(head.canonical),
        image_alt=head.image_alt and fold(head.image_alt),
        **{name: text and fold(text) for name, text in texts.items()},
    )
    if head.image is None or (safe_image(head) and _web(head.image) and not _literal_local(head)):
        return head
    return without_image(head)


def _web(url: str | None) -> str | None:
    web = url and url.lower().startswith(("http://", "https://"))
    return url if web and len(url) <= MAX_URL_LENGTH else None


def _literal_local(head: PageHead) -> bool:
    address = literal_address(host_of(head.image))
    return address is not None and non_public(address) is not None


def _save(store: Store, heads: list[PageHead], now: datetime) -> None:
    """Store fresh heads and forget those too old to be reused, in one transaction."""
    columns = [f.name for f in fields(PageHead)]
    with store.transaction() as db:
        db.executemany(
            f"INSERT OR REPLACE INTO page_heads ({', '.join(columns)})"
            f" VALUES ({', '.join(':' + c for c in columns)})",
            [{**vars(head), "fetched_at": _stamp(head.fetched_at or now)} for head in heads],
        )
        db.execute("DELETE FROM page_heads WHERE fetched_at <= ?", (_stamp(now - REUSE),))


def _stamp(moment: datetime) -> str:
    """As store.py stores moments: UTC, whole seconds, so they compare as text."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
