"""Feed bytes → Items, with feedparser on bytes (never on a URL).

Bodies are untrusted. Before feedparser sees one, its DTD is removed: feedparser keeps "safe"
entity declarations, and one large entity referenced thousands of times would expand past memory,
while an external entity could pull in a local file. feedparser's own HTML sanitising and URI
resolution are switched off because they cost most of its time: we keep only plain text.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from digest.core.errors import FeedError
from digest.core.models import Item, ParsedFeed
from digest.core.text import excerpt, fold, html_to_text
from digest.core.urls import MAX_URL_LENGTH, absolute_url, canonical_url

TITLE_LIMIT = 300  # titles are cut to this many characters
# A title this much longer is no title: the item is dropped, as is one with a link over
# MAX_URL_LENGTH, rather than carried into an email.
MAX_TITLE_LENGTH = 2_000
SUMMARY_LIMIT = 400
# The whole DOCTYPE, internal subset included; a stray ENTITY outside one is removed too.
_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.IGNORECASE | re.DOTALL)
_ENTITY = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_FEED_ROOT = re.compile(rb"<(?:\w+:)?(?:rss|feed|RDF|channel)\b")


def neutralise_dtd(body: bytes) -> bytes:
    """The body without any DOCTYPE or entity declaration; UTF-16/32 bodies become UTF-8 first."""
    if body.startswith(_UTF16_32_BOMS):
        text = body.decode(
            "utf-32" if body[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") else "utf-16",
            errors="replace",
        )
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
        body = b'<?xml version="1.0" encoding="utf-8"?>' + text.encode("utf-8")
    if b"<!" not in body:
        return body
    return _ENTITY.sub(b"", _DOCTYPE.sub(b"", body))


def parse_feed(
    body: bytes, url: str, source: str, content_type: str | None, now: datetime
) -> ParsedFeed:
    """Parse a feed body fetched from `url` into Items of `source`; FeedError if unusable."""
    started = time.process_time()
    body = body.lstrip()  # whitespace before the XML declaration makes it a syntax error
    if not body:
        raise FeedError("empty body: the server sent no feed")
    cleaned = neutralise_dtd(body)
    dtd_note = "its DTD was removed unread" if b"<!ENTITY" in body[:65536] else None
    body, head = cleaned, cleaned[:4096]
    if _HTML_START.search(head) and not _FEED_ROOT.search(head):
        raise FeedError(_html_page_message(body, url))
    import feedparser

    # No content-location: relative links are resolved below, against the channel's own link.
    headers = {"content-type": content_type or "application/xml"}
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        reason = _bozo_reason(parsed) or "no RSS or Atom elements found"
        raise FeedError(f"not a feed ({reason})")
    base = urljoin(url, parsed.feed.get("link") or "")
    if not base.startswith(("http://", "https://")):
        base = url
    entries = [_item(entry, base, source, now) for entry in parsed.entries]
    items = tuple(entry for entry in entries if isinstance(entry, Item))
    skipped = Counter(entry for entry in entries if isinstance(entry, str))
    skips = [f"{n} of {len(entries)} items skipped: {why}" for why, n in skipped.items()]
    bozo = _bozo_reason(parsed) if parsed.get("bozo") else None
    if bozo and not items:
        raise FeedError(f"malformed feed with no readable items ({'; '.join([bozo, *skips])})")
    notes = (dtd_note, bozo and f"malformed but readable: {bozo}", *skips)
    title = fold(html_to_text(parsed.feed.get("title", "")))
    note = fold("; ".join(filter(None, notes))) or None
    return ParsedFeed(title, items, note, time.process_time() - started)


def parse_feed_safely(
    body: bytes, url: str, source: str, content_type: str | None, now: datetime
) -> ParsedFeed | str:
    """parse_feed for a worker process: any failure comes back as a one-line reason, not a raise."""
    try:
        return parse_feed(body, url, source, content_type, now)
    except FeedError as exc:
        return exc.message
    except Exception as exc:  # a parser bug on hostile input must not stop the other sources
        return f"the feed could not be parsed ({type(exc).__name__}: {fold(str(exc))[:200]})"


def _item(entry, base: str, source: str, now: datetime) -> Item | str:
    """The entry as an Item, or why it was skipped."""
    link = (entry.get("link") or "").strip()
    guid = fold(entry.get("id") or "") or None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    link = absolute_url(base, link) if link else ""
    if urlsplit(link).scheme not in ("http", "https"):
        return "no web link"  # a digest item must lead somewhere a reader can go
    if len(link) > MAX_URL_LENGTH:
        return f"a link longer than {MAX_URL_LENGTH:,} characters"
    full_title = html_to_text(entry.get("title") or "")
    if len(full_title) > MAX_TITLE_LENGTH:
        return f"a title longer than {MAX_TITLE_LENGTH:,} characters"
    title = excerpt(full_title, TITLE_LIMIT) or link
    content = entry.get("content") or [{}]
    summary_html = entry.get("summary") or content[0].get("value") or ""
    summary = excerpt(html_to_text(summary_html), SUMMARY_LIMIT)
    categories = tuple(
        dict.fromkeys(
            fold(tag.get("term") or "") for tag in entry.get("tags") or () if tag.get("term")
        )
    )
    published, note = _published(entry, now)
    digest = hashlib.sha256("\0".join((title, link, summary)).encode()).hexdigest()
    identity = guid or link or digest
    item_id = hashlib.sha256(f"{source}\0{identity}".encode()).hexdigest()[:32]
    return Item(
        item_id,
        source,
        guid,
        link,
        canonical_url(link),
        title,
        summary,
        published,
        note,
        categories,
        digest,
    )


def _published(entry, now: datetime) -> tuple[datetime | None, str | None]:
    # dict.get: FeedParserDict.get would warn about its own updated/published aliasing.
    struct = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if struct is None:
        raw = dict.get(entry, "published") or dict.get(entry, "updated")
        return None, f"unreadable date {fold(raw)[:40]!r}" if raw else "no date"
    try:
        when = datetime(*struct[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None, "unreadable date"
    if when > now:
        return now, f"future date {when:%Y-%m-%d} clamped to fetch time"
    return when, None


def _bozo_reason(parsed) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return ""
    if hasattr(exc, "getLineNumber"):  # an XML syntax error from the strict parser
        return f"{exc.getMessage()} at line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
    return fold(str(exc))[:160]


def _html_page_message(body: bytes, url: str) -> str:
    """Say the source is a web page, naming the feeds the page advertises, if any."""
    import lxml.html

    try:
        page = lxml.html.document_fromstring(body[:1_000_000])
    except (ValueError, lxml.etree.ParserError):
        return "an HTML page, not a feed"
    feeds = [
        absolute_url(url, link.get("href"))
        for link in page.xpath("//link[@href and contains(@rel, 'alternate')]")
        if (link.get("type") or "").split(";")[0].strip().lower()
        in ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
    ]
    if not feeds:
        return "an HTML page, not a feed (and it advertises no feed)"
    return "an HTML page, not a feed; it advertises: " + ", ".join(dict.fromkeys(feeds))
