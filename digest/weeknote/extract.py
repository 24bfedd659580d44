"""Weeknote HTML → an editorial and themed sections of links, with BeautifulSoup.

A weeknote is a community blog post: a few opening paragraphs (the editorial), then themed
headings, each over links with a sentence about each. Pages are untrusted and often messy, so
nothing here raises for a bad page: what went wrong is reported, one line each, in `problems`.

The work is split: digest.weeknote.body finds the article and clears its furniture (with the
rules in digest.weeknote.furniture), digest.weeknote.sections splits it at its headings, and
digest.weeknote.titles names each link. Choices made here:
- The editorial is the text before the first heading. When that is under 40 characters (a
  byline, nothing at all) and the first headed section reads as an opening (a question or a
  subtitle for a heading, or prose with few links), that section is the editorial instead, and
  its heading is dropped: weeknotes often open with one such as "What's going on in
  improvement?". A post that opens with a section of links has no editorial.
- A link's target is unwrapped from redirect wrappers (digest.sources.unwrap) before it is
  compared, so a wrapped and a plain link to one story count once.
- Account and comment links are matched on whole path segments (/login, /comment), so a path
  such as /commentary/ is kept; share intents, tag and author listings, subscription pages and
  the rest of the furniture are skipped wherever they stand (digest.weeknote.furniture).
- The title is the body's h1; else the longest heading outside the site's furniture that the
  page's <title> or og:title quotes; else any h1; else the <title>.
- Emoji and symbols opening the editorial are a page's icon, and are left out.
- A link with no words to an image file is a picture shown larger, and is skipped.
- Bytes are decoded as a browser would (digest.sources.charset), after capping at max_bytes bytes; a
  str is capped at max_bytes characters.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, ParserRejectedMarkup, Tag

from digest.core.text import excerpt, fold
from digest.core.urls import MAX_URL_LENGTH, absolute_url, canonical_url
from digest.sources.charset import decode_html
from digest.sources.unwrap import unwrap
from digest.weeknote.body import find_body, remove_furniture
from digest.weeknote.furniture import inside_furniture, is_furniture_link, same_site
from digest.weeknote.model import Weeknote, WeeknoteLink, WeeknoteSection
from digest.weeknote.sections import Draft, walk_sections
from digest.weeknote.titles import BLURB_LIMIT, TITLE_LIMIT, Contexts

__all__ = ["BLURB_LIMIT", "TITLE_LIMIT", "Weeknote", "WeeknoteLink", "WeeknoteSection"]
__all__ += ["extract_weeknote"]

EDITORIAL_LIMIT = 600
PAGE_TITLE_LIMIT = 300
# Less text than this before the first heading is a byline, not an editorial.
EDITORIAL_MIN_TEXT = 40
# A first headed section is the opening when its heading has this many words or more, or it
# has this many characters of text per link or more (the fixtures' openings: 190 to 415; a
# section of links has tens).
OPENING_HEADING_WORDS = 8
OPENING_PROSE = 150
_OPENING_NAME = re.compile(
    r"(?:intro|introduction|overview|summary|tl;? ?dr|(?:welcome|hello|hi)\b.*)[.!:]?", re.I
)
# No real host name holds spaces, control characters or these; browsers refuse such links.
_JUNK_HOST = re.compile(r"[\s\x00-\x1f\x7f-\x9f<>\"'`{}|\\^%]")
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg|bmp|tiff?)$", re.I)
_ACCOUNT_PATH = re.compile(r"/(?:login|signin|sign-in|wp-login|wp-admin)(?:[/.]|$)", re.I)
# The site's own comment pages are furniture; another site's ("/r/emacs/comments/1x/…", a
# forum's thread) is a discussion the editor links to, a story in its own right.
_COMMENT_PATH = re.compile(r"/comments?(?:[/.]|$)", re.I)
_SENTENCE_BREAK = re.compile("(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*\\s+")


def extract_weeknote(
    html: bytes | str,
    url: str,
    selector: str | None = None,
    max_bytes: int = 5_000_000,
    content_type: str | None = None,
) -> Weeknote:
    """The weeknote at `url`; `selector` (CSS) names its article body when guessing would fail;
    `content_type` is the HTTP header the page came with, for its charset."""
    problems: list[str] = []
    if len(html) > max_bytes:
        html = _cap(html, max_bytes)
        problems.append(f"page capped at {max_bytes:,} bytes; the rest was not read")
    soup = _soup(decode_html(html, content_type) if isinstance(html, bytes) else html)
    if soup is None:
        return Weeknote("", "", (), (*problems, "the page could not be parsed"))
    body = find_body(soup, selector, problems)
    title = _title(soup, body)
    if body is None:
        return Weeknote(title, "", (), (*problems, "no article body found"))
    own = _own_urls(soup, url)
    remove_furniture(body, url, _hosts(own), title)
    drafts = _editorial_first(walk_sections(body))
    sections = _sections(drafts, _base_url(soup, url), own)
    sections, too_long = _without_long_links(sections)
    if too_long:
        problems.append(f"{too_long} links longer than {MAX_URL_LENGTH:,} characters left out")
    problems += [f"section {s.heading!r} has no links" for s in sections[1:] if not s.links]
    if not any(section.links for section in sections):
        problems.append("no links found")
    editorial = _editorial_text("".join(drafts[0].text))
    return Weeknote(title, editorial, sections, tuple(problems))


def _cap(html: bytes | str, max_bytes: int) -> bytes | str:
    if isinstance(html, str):
        return html[:max_bytes]
    # Drop a trailing partial character: a broken UTF-8 sequence would make the decoder reject
    # UTF-8 and read the whole page as windows-1252. Any byte below 0x80 is a character boundary.
    return html[:max_bytes].rstrip(bytes(range(0x80, 0x100)))


def _soup(html: str) -> BeautifulSoup | None:
    with warnings.catch_warnings():
        # bs4 warns about markup that looks like a file name or like XML; it parses it anyway.
        warnings.simplefilter("ignore")
        try:
            return BeautifulSoup(html, "lxml")
        except ParserRejectedMarkup:
            return None


def _title(soup: BeautifulSoup, body: Tag | None) -> str:
    """The post's title: the body's h1; else the longest heading outside the site's header,
    nav and sidebars that the page's <title> or og:title quotes (Blogger puts the blog's name
    in an h1 and the post's in an h3); else any h1; else the <title>."""
    heading = body.find(_has_text("h1")) if body is not None else None
    if heading is None:
        quoted = [tag for tag in soup.find_all(_has_text("h1", "h2", "h3")) if _quoted(soup, tag)]
        heading = max(quoted, key=lambda tag: len(fold(tag.get_text(" "))), default=None)
    heading = heading or soup.find(_has_text("h1"))
    if heading is not None:
        return excerpt(fold(heading.get_text(" ")), PAGE_TITLE_LIMIT)
    return excerpt(fold(soup.title.get_text()), PAGE_TITLE_LIMIT) if soup.title else ""


def _has_text(*names: str):
    return lambda tag: tag.name in names and bool(fold(tag.get_text()))


def _quoted(soup: BeautifulSoup, heading: Tag) -> bool:
    """Whether the page's <title> or og:title holds the heading's words, and the heading is not
    in the site's furniture."""
    words = fold(heading.get_text(" ")).casefold()
    og = soup.find("meta", attrs={"property": "og:title"})
    names = [soup.title.get_text() if soup.title else "", str(og.get("content", "")) if og else ""]
    quoted = any(words in fold(name).casefold() for name in names)
    return quoted and not inside_furniture(heading)


def _editorial_first(drafts: list[Draft]) -> list[Draft]:
    """Make the first draft the editorial: the opening text, or the first headed section when
    nothing much comes before it."""
    opening = drafts[0]
    if len(drafts) == 1 or len(fold("".join(opening.text))) >= EDITORIAL_MIN_TEXT:
        return drafts
    first = drafts[1]
    if not _reads_as_opening(first):
        return drafts  # a post that opens with its first themed section has no editorial
    links, subheadings = opening.links + first.links, opening.subheadings + first.subheadings
    return [Draft("", links, first.text, subheadings=subheadings), *drafts[2:]]


def _reads_as_opening(draft: Draft) -> bool:
    """Whether a post's first headed section is its opening rather than its first themed
    section: the heading asks a question, is a subtitle as long as a sentence ("What's going on
    in improvement?") or names an opening ("Introduction"), or the section is prose, with few
    links for its words."""
    heading = fold(draft.heading)
    if heading.endswith("?") or len(heading.split()) >= OPENING_HEADING_WORDS:
        return True
    if _OPENING_NAME.fullmatch(heading):
        return True
    return len(fold("".join(draft.text))) >= OPENING_PROSE * max(1, len(draft.links))


def _editorial_text(raw: str) -> str:
    """The editorial's text cut after its last whole sentence within the limit."""
    text = _without_leading_symbols(fold(raw))
    if len(text) <= EDITORIAL_LIMIT:
        return text
    ends = [m.start() for m in _SENTENCE_BREAK.finditer(text, 0, EDITORIAL_LIMIT + 1)]
    if ends and ends[-1] >= EDITORIAL_LIMIT // 2:
        return text[: ends[-1]]
    return excerpt(text, EDITORIAL_LIMIT)


def _without_leading_symbols(text: str) -> str:
    """`text` without the emoji or other symbols it opens with (a page's icon: "📝 Hi all")."""
    start = 0
    while start < len(text) and (
        text[start].isspace()
        or unicodedata.category(text[start])[0] in "SC"
        or unicodedata.category(text[start]) in ("Mn", "Me", "Sk")
    ):
        start += 1
    return text[start:]


def _base_url(soup: BeautifulSoup, url: str) -> str:
    """The address relative links resolve against: the page's <base href> if that is a real
    http(s) address, else the page's own."""
    base = soup.find("base", href=True)
    if base is None:
        return url
    try:
        joined = urljoin(url, str(base["href"]).strip())
        host = urlsplit(joined).hostname
    except ValueError:  # an unparseable host such as "http://[::1"
        return url
    is_web = joined.startswith(("http://", "https://"))
    return joined if is_web and host and not _JUNK_HOST.search(host) else url


def _own_urls(soup: BeautifulSoup, url: str) -> set[str]:
    """Canonical forms of the page's own address and of the one it declares for itself."""
    declared = soup.find("link", rel="canonical", href=True)
    addresses = [url] if declared is None else [url, str(declared["href"])]
    own = set()
    for address in addresses:
        try:
            own.add(canonical_url(urljoin(url, address)))
        except ValueError:  # a broken address matches no link anyway
            continue
    return own


def _hosts(urls: set[str]) -> set[str]:
    return {host for host in (urlsplit(url).hostname for url in urls) if host}


def _sections(drafts: list[Draft], base: str, own_urls: set[str]) -> tuple[WeeknoteSection, ...]:
    seen = set(own_urls)  # a link back to the page counts as already taken
    own_hosts = _hosts(own_urls)
    contexts = Contexts()
    sections = []
    position = 0
    for draft in drafts:
        links = []
        for anchor, under in zip(draft.links, draft.subheadings, strict=True):
            target = _link_target(anchor, base, own_hosts)
            if target is None or target[1] in seen:
                continue
            seen.add(target[1])
            title, blurb, words = contexts.describe(anchor, target[0])
            link = WeeknoteLink(
                *target, title, blurb, draft.heading, position, link_text=words, subheadings=under
            )
            links.append(link)
            position += 1
        sections.append(WeeknoteSection(draft.heading, tuple(links)))
    return tuple(sections)


def _without_long_links(
    sections: tuple[WeeknoteSection, ...],
) -> tuple[tuple[WeeknoteSection, ...], int]:
    """The sections without links over MAX_URL_LENGTH (none a reader follows; one alone could
    push an email past Gmail's clipping size), and how many were left out."""
    kept = tuple(
        WeeknoteSection(s.heading, tuple(x for x in s.links if len(x.url) <= MAX_URL_LENGTH))
        for s in sections
    )
    return kept, sum(len(s.links) for s in sections) - sum(len(s.links) for s in kept)


def _is_picture(anchor: Tag, url: str) -> bool:
    """A picture linked to its own image file, to show it larger: nothing to read. A link with
    words to an image file ("our winter infographic") is kept."""
    return not fold(anchor.get_text()) and bool(_IMAGE_PATH.search(urlsplit(url).path))


def _link_target(anchor: Tag, base: str, own_hosts: set[str]) -> tuple[str, str] | None:
    """The absolute and canonical URL of a link worth reading, unwrapped from any redirect
    wrapper, or None for anything else (furniture, pictures, other schemes, broken hosts)."""
    href = str(anchor["href"]).strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = unwrap(absolute_url(base, href))
        parts = urlsplit(url)
        canonical = canonical_url(url)
    except ValueError:  # an unparseable host such as "http://[::1"
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or _JUNK_HOST.search(host):
        return None
    if _ACCOUNT_PATH.search(parts.path) or "replytocom" in parts.query:
        return None
    if _COMMENT_PATH.search(parts.path) and same_site(host, own_hosts):
        return None
    if is_furniture_link(anchor, parts, own_hosts) or _is_picture(anchor, url):
        return None
    return url, canonical
