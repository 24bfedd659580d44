"""Enrichment: what a linked page says of itself in its <head> (title, description, publisher,
canonical URL, image), read politely and cached, so the issue's items can read as an editor
would write them (digest.curation.tidy decides how they are used).

Fetching is digest fetch's: the global and per-host caps, the User-Agent, redirects followed by
hand (the final URL kept), and the address guard as digest links uses it, so a link may reach a
non-public address only when the source it came from is configured on one. At most HEAD_CAP bytes
are read, and reading stops at </head>. Results go into `page_heads`, reused for 30 days (errors
for a day), and every answer is also kept as the link's check in `link_checks`, so `digest links`
after a build asks nothing again. Without `enrich.online` (--offline, and every command that only
reads the state) nothing is requested: the cache is all there is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from digest.core.errors import FetchError
from digest.core.settings import Config
from digest.core.store import Store
from digest.core.text import excerpt, fold
from digest.core.urls import MAX_URL_LENGTH, absolute_url, reserved_host
from digest.sources.charset import decode_html
from digest.sources.fetch import REDIRECTS, Budget, Slots, make_client, next_hop
from digest.sources.guard import AddressGuard, Resolver, system_resolver
from digest.sources.links import IssueLink, configured_url, record_answers

HEAD_CAP = 256 * 1024
REUSE = timedelta(days=30)
REUSE_ERROR = timedelta(days=1)
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
TEXT_LIMIT = 300  # characters kept of a title, publisher or image text
DESCRIPTION_CACHE_LIMIT = 1000
JSON_LD_DEPTH = 6  # how deep into a JSON-LD document a publisher is looked for
_HEAD_END = (b"</head", b"<body")
# lxml refuses text that declares its own encoding: it is decoded already.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")


@dataclass(frozen=True)
class PageHead:
    """What a linked page's <head> says of it, or why it could not be read (`error`)."""

    url: str  # the link as found
    final_url: str | None = None
    title: str | None = None
    description: str | None = None
    publisher: str | None = None
    canonical: str | None = None
    image: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    image_alt: str | None = None
    error: str | None = None  # one line
    fetched_at: datetime | None = None


def page_heads(
    links: Iterable[IssueLink],
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    resolver: Resolver = system_resolver,
) -> dict[str, PageHead]:
    """URL → PageHead for each link: from the cache, else (with enrich.online) from the page,
    else a PageHead whose error says why there is none."""
    unique = {link.url: link for link in links}
    if not config.enrich.enabled:
        off = "enrichment is off (--no-enrich, or enrich.enabled: false)"
        return {url: PageHead(url, error=off) for url in unique}
    heads = {url: PageHead(url, error=why) for url in unique if (why := _unreadable(url))}
    heads.update(cached_heads([url for url in unique if url not in heads], store, now))
    web = [link for url, link in unique.items() if url not in heads]
    if web and config.enrich.online:
        fresh = asyncio.run(_read_all(web, config, now, client, resolver))
        _save(store, [head for head, _ in fresh], now)
        record_answers([answer for _, answer in fresh if answer], config, store, now)
        heads.update((head.url, head) for head, _ in fresh)
    for url in unique:
        heads.setdefault(url, PageHead(url, error="offline, nothing cached"))
    return heads


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


# Reading a head from the network


async def _read_all(links, config, now, client, resolver) -> list[tuple[PageHead, tuple | None]]:
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        reader = _HeadReader(client, config, resolver)
        return list(await asyncio.gather(*(reader.read(link, now) for link in links)))


class _HeadReader:
    def __init__(self, client: httpx.AsyncClient, config: Config, resolver: Resolver):
        self.client = client
        self.config = config
        self.headers = {"User-Agent": config.user_agent(), "Accept": ACCEPT}
        settings = config.fetch
        self.timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        self.slots = Slots(config.fetch.concurrency, config.fetch.per_host)
        self.guard = AddressGuard(resolver)

    async def read(self, link: IssueLink, now: datetime) -> tuple[PageHead, tuple | None]:
        """The page's head and, when it answered, the answer as digest links records it:
        (url, final url, status, reason, first redirect's status)."""
        configured = configured_url(link, self.config)
        seconds = self.config.enrich.timeout
        try:
            head, answer = await self._follow(link.url, configured, Budget(seconds))
        except FetchError as refused:  # the address guard, or a host that does not resolve
            return PageHead(link.url, error=refused.message, fetched_at=now), None
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {seconds:g} s (enrich.timeout)"
            return PageHead(link.url, error=error, fetched_at=now), None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: a bad Location
            return PageHead(link.url, error=_describe(exc), fetched_at=now), None
        return dataclasses.replace(head, fetched_at=now), answer

    async def _follow(self, url: str, configured: str | None, budget: Budget):
        seen, current, first_hop = {url}, url, None
        while True:
            async with self.slots.hold(current), budget.spend():
                await self.guard.check(current, configured)
                request = self.client.build_request(
                    "GET", current, headers=self.headers, timeout=self.timeout
                )
                response = await self.client.send(request, stream=True)
                try:
                    body = await _head_bytes(response) if response.status_code == 200 else b""
                finally:
                    await response.aclose()
            status, location = response.status_code, response.headers.get("location")
            if status in REDIRECTS and location:
                limit = self.config.fetch.max_redirects
                first_hop = first_hop or status
                current = next_hop(current, location, status, seen, limit)
                continue
            answer = (url, current, status, response.reason_phrase, first_hop)
            return _head_of(url, current, status, response, body), answer


def _head_of(url: str, final: str, status: int, response: httpx.Response, body: bytes):
    content_type = response.headers.get("content-type")
    if status != 200:
        return PageHead(url, final, error=fold(f"HTTP {status} {response.reason_phrase}"))
    kind = (content_type or "text/html").split(";")[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml"):
        return PageHead(url, final, error=f"not an HTML page ({fold(kind)[:60]})")
    return dataclasses.replace(parse_head(body, final, content_type), url=url, final_url=final)


async def _head_bytes(response: httpx.Response) -> bytes:
    """The page up to the end of its head, at most HEAD_CAP bytes (after decompression)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        start = max(0, len(body) - 8)  # a marker may straddle two chunks
        body += chunk
        tail = bytes(body[start:]).lower()
        if len(body) >= HEAD_CAP or any(marker in tail for marker in _HEAD_END):
            break
    return bytes(body[:HEAD_CAP])


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    reason = fold(text.splitlines()[0]) if text else ""
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({reason or 'refused'})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"connection broken ({reason or 'reset by peer'})"
    return f"{type(exc).__name__}: {reason}"


# Parsing a head


def parse_head(body: bytes, url: str, content_type: str | None = None) -> PageHead:
    """What the head of `body` (a page's first bytes, from `url`) says. Never raises: a page
    with no head or broken markup gives a PageHead with fewer fields."""
    import lxml.etree
    import lxml.html

    # lxml refuses text with NUL characters in it; a page may well hold some.
    text = _XML_DECLARATION.sub("", decode_html(body[:HEAD_CAP], content_type).replace("\0", ""))
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return PageHead(url)
    metas = _metas(root)
    base = _absolute(url, _first_attribute(root, "base", "href")) or url
    return PageHead(
        url,
        title=_text(metas.get("og:title") or metas.get("twitter:title") or _title(root)),
        description=_text(
            metas.get("og:description")
            or metas.get("twitter:description")
            or metas.get("description"),
            DESCRIPTION_CACHE_LIMIT,
        ),
        publisher=_text(metas.get("og:site_name") or _json_ld_publisher(root)),
        canonical=_absolute(base, _canonical_href(root)),
        image=_absolute(base, metas.get("og:image") or metas.get("og:image:url")),
        image_width=_dimension(metas.get("og:image:width")),
        image_height=_dimension(metas.get("og:image:height")),
        image_alt=_text(metas.get("og:image:alt")),
    )


def _metas(root) -> dict[str, str]:
    """The first content of each <meta property|name>, keys in lower case."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = meta.get("content")
        if key and content and content.strip() and key not in found:
            found[key] = content
    return found


def _first_attribute(root, tag: str, attribute: str) -> str | None:
    element = next(root.iter(tag), None)
    return element.get(attribute) if element is not None else None


def _title(root) -> str | None:
    element = next(root.iter("title"), None)
    return element.text_content() if element is not None else None


def _canonical_href(root) -> str | None:
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return link.get("href")
    return None


def _json_ld_publisher(root) -> str | None:
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        for node in _json_nodes(data, JSON_LD_DEPTH):
            name = _name_of(node.get("publisher"))
            if name:
                return name
    return None


def _json_nodes(data, depth: int) -> Iterator[dict]:
    """Every JSON object in `data` down to `depth` levels (JSON-LD nests in @graph and lists)."""
    if depth <= 0:
        return
    if isinstance(data, dict):
        yield data
        data = list(data.values())
    if isinstance(data, list):
        for value in data:
            yield from _json_nodes(value, depth - 1)


def _name_of(publisher) -> str | None:
    if isinstance(publisher, list):
        publisher = publisher[0] if publisher else None
    if isinstance(publisher, dict):
        publisher = publisher.get("name")
    return publisher if isinstance(publisher, str) else None


def _text(value: str | None, limit: int = TEXT_LIMIT) -> str | None:
    """A page's text as digest keeps it: one plain line, capped; None when empty."""
    text = excerpt(fold(value), limit) if value else ""
    return text or None


def _absolute(base: str, href: str | None) -> str | None:
    if not href or not href.strip():
        return None
    try:
        url = absolute_url(base, href)
    except ValueError:  # an address such as http://[oops/
        return None
    web = url.lower().startswith(("http://", "https://"))
    return url if web and len(url) <= MAX_URL_LENGTH else None


def _dimension(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= 100_000 else None


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
            heads[head.url] = dataclasses.replace(head, fetched_at=fetched_at)
    return heads


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
