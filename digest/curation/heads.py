"""What a linked page says of itself in its <head>: its title, description, publisher,
canonical URL and image, read from the page's first bytes (digest.curation.enrich fetches them).
Every text comes out as one plain, capped line and every URL as an absolute http(s) one within
MAX_URL_LENGTH; an image counts only with a plausible size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from digest.core.text import excerpt, fold
from digest.core.urls import MAX_URL_LENGTH, absolute_url
from digest.sources.charset import decode_html

HEAD_CAP = 256 * 1024  # bytes of a page read at most: its head is in there or nowhere
TEXT_LIMIT = 300  # characters kept of a title, publisher or image text
DESCRIPTION_CACHE_LIMIT = 1000
JSON_LD_DEPTH = 6  # how deep into a JSON-LD document a publisher is looked for
# An image smaller than this on either side, or more than IMAGE_RATIO times longer one way than
# the other, is a tracking pixel, an icon or a rule, not a picture of the story.
IMAGE_MIN_SIDE = 150
IMAGE_RATIO = 4
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


def plausible_image(width: int | None, height: int | None) -> bool:
    """Whether an image of this declared size can be a picture of the story."""
    if not (width and height) or min(width, height) < IMAGE_MIN_SIDE:
        return False
    return max(width, height) <= IMAGE_RATIO * min(width, height)
