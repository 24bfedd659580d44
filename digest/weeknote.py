"""Weeknote HTML → an editorial and themed sections of links, with BeautifulSoup.

A weeknote is a community blog post: a few opening paragraphs (the editorial), then themed
headings, each over links with a sentence about each. Pages are untrusted and often messy, so
nothing here raises for a bad page: what went wrong is reported, one line each, in `problems`.

Choices the issue left open:
- The editorial is the text before the first heading. When that is under 40 characters (a
  byline, nothing at all), the section under the first heading is the editorial instead, and that
  heading is dropped: weeknotes often open with one such as "What's going on in improvement?".
- Widgets are recognised by a class or id containing share, social, follow, related, cookie,
  consent, comments, breadcrumb, newsletter, subscribe, byline or post/entry-meta. Headings are
  exempt, because their ids are slugs of their own text ("social-prescribing"), and so are
  WordPress's tag-* and category-* classes, which name the post's topics.
- Account and comment links are matched on whole path segments (/login, /comment), so a path
  such as /commentary/ is kept.
- A generic link text ("here", "read more", "register") is replaced by its sentence, read with
  the link's words in place ("the slides are here"; a bare URL is left out), or by the clause
  around the link when the sentence holds other links too. When the sentence says too little
  ("Read more.", "Book here."), by what such links point back to: a list item's first sentence,
  else the sentence before.
- A link with no words to an image file is a picture shown larger, and is skipped.
- A page labelled Latin-1 (or ASCII) is read as windows-1252, as browsers do.
- Bytes are capped at max_bytes bytes, a str at max_bytes characters.
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import soupsieve
from bs4 import BeautifulSoup, NavigableString, ParserRejectedMarkup, Tag
from bs4.element import PreformattedString

from digest.text import excerpt, fold
from digest.urls import MAX_URL_LENGTH, absolute_url, canonical_url

TITLE_LIMIT = 120
BLURB_LIMIT = 240
EDITORIAL_LIMIT = 600
PAGE_TITLE_LIMIT = 300
PSEUDO_HEADING_LIMIT = 80
# Less text than this before the first heading is a byline, not an editorial.
EDITORIAL_MIN_TEXT = 40
# A title made from the words around a link says too little below this ("Book", "Find out in").
WEAK_TITLE_WORDS = 5

_NOISE_TAGS = {"header", "nav", "footer", "aside", "form", "script", "style", "template"}
_NOISE_TAGS |= {"noscript", "iframe", "button"}
_NOISE_ROLES = {"banner", "navigation", "contentinfo", "complementary", "search"}
_NOISE_NAME = re.compile(
    r"share|social|follow|related|cookie|consent|comments|skip-?link|breadcrumb|newsletter"
    r"|subscri(?:be|ption)|byline|(?:post|entry)-meta",
    re.I,
)
# WordPress names a post's tags and categories in its classes ("tag-social-prescribing"): they
# say what the post is about, not that it is a widget.
_TAXONOMY_CLASS = re.compile(r"(?:tag|category)-", re.I)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SECTION_TAGS = {"h1", "h2", "h3"}  # h1 is the page title: read, but it starts no section
_CONTAINERS = (".entry-content", ".post-content", ".article-body", "#content", ".content")
# The elements whose text is a link's context: the nearest one around a link holds its sentence.
_CONTEXT_BLOCKS = {"p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption", "pre"}
_CONTEXT_BLOCKS |= _HEADINGS | {"div", "section", "article", "main", "body"}
# Elements whose edges separate words in plain text.
_SPACED = _CONTEXT_BLOCKS | {"br", "ul", "ol", "dl", "tr", "table", "hr", "figure"}
_GENERIC = frozenset(
    {"here", "this", "read more", "more", "click here", "this article", "this report"}
    | {"this page", "link", "learn more", "find out more", "continue reading", "this link"}
    | {"this guide", "this blog", "this post", "full report", "the full report"}
    # Calls to action name what to do, not what the link is.
    | {"register", "register here", "book", "book now", "book here", "book a place"}
    | {"sign up", "sign up here", "apply", "apply now", "apply here", "download"}
)
_BARE_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_SHARE_URLS = (
    ("twitter.com", "/intent"),
    ("x.com", "/intent"),
    ("facebook.com", "/sharer"),
    ("linkedin.com", "/sharing"),
    ("linkedin.com", "/sharearticle"),
    ("wa.me", ""),
    ("api.whatsapp.com", "/send"),
    ("reddit.com", "/submit"),
)
# No real host name holds spaces, control characters or these; browsers refuse such links.
_JUNK_HOST = re.compile(r"[\s\x00-\x1f\x7f-\x9f<>\"'`{}|\\^%]")
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg|bmp|tiff?)$", re.I)
_ACCOUNT_PATH = re.compile(r"/(?:login|signin|sign-in|wp-login|wp-admin|comments?)(?:[/.]|$)", re.I)
# Where one sentence ends and the next begins: the closing punctuation stays with the first.
_SENTENCE_BREAK = re.compile("(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*\\s+")
_CLAUSE_BREAK = re.compile("[,;:\u2013\u2014()]")
_WORD_CHARACTER = re.compile(r"\w")
_TRIM = " .,;:\u2013\u2014"
_LATIN1_LABELS = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "l1", "ascii", "us-ascii"}


@dataclass(frozen=True)
class WeeknoteLink:
    url: str  # absolute
    canonical_url: str
    title: str
    blurb: str
    section: str  # heading of the section it sits in; "" for the editorial
    position: int  # 0-based order among the page's links


@dataclass(frozen=True)
class WeeknoteSection:
    heading: str  # "" for the editorial
    links: tuple[WeeknoteLink, ...]


@dataclass(frozen=True)
class Weeknote:
    title: str  # the page's h1, else its <title>
    editorial: str  # plain text of the opening section, cut to a few sentences
    sections: tuple[WeeknoteSection, ...]  # the editorial first, then in document order
    problems: tuple[str, ...]  # one line each


@dataclass
class _Draft:
    """A section while the page is walked: its link elements and its raw text."""

    heading: str
    links: list[Tag] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def extract_weeknote(
    html: bytes | str, url: str, selector: str | None = None, max_bytes: int = 5_000_000
) -> Weeknote:
    """The weeknote at `url`; `selector` (CSS) names its article body when guessing would fail."""
    problems: list[str] = []
    if len(html) > max_bytes:
        html = _cap(html, max_bytes)
        problems.append(f"page capped at {max_bytes:,} bytes; the rest was not read")
    soup = _parse(html)
    if soup is None:
        return Weeknote("", "", (), (*problems, "the page could not be parsed"))
    body = _find_body(soup, selector, problems)
    title = _title(soup, body)
    if body is None:
        return Weeknote(title, "", (), (*problems, "no article body found"))
    for noise in body.find_all(_is_noise):
        if not noise.decomposed:  # an outer widget already took it
            noise.decompose()
    drafts = _editorial_first(_walk_sections(body))
    sections = _sections(drafts, _base_url(soup, url), _own_urls(soup, url))
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


def _parse(html: bytes | str) -> BeautifulSoup | None:
    soup = _soup(html)
    if isinstance(html, bytes) and soup and str(soup.original_encoding) in _LATIN1_LABELS:
        # Browsers read a page labelled Latin-1 as windows-1252, as the HTML standard says: its
        # curly quotes and dashes are bytes 0x80-0x9F, which Latin-1 makes control characters.
        # Decoded here, not by lxml, which gives up on the five bytes windows-1252 leaves unused.
        soup = _soup(html.decode("windows-1252", errors="replace")) or soup
    return soup


def _soup(html: bytes | str) -> BeautifulSoup | None:
    with warnings.catch_warnings():
        # bs4 warns about markup that looks like a file name or like XML; it parses it anyway.
        warnings.simplefilter("ignore")
        try:
            return BeautifulSoup(html, "lxml")
        except ParserRejectedMarkup:
            return None


def _find_body(soup: BeautifulSoup, selector: str | None, problems: list[str]) -> Tag | None:
    """The element holding the article: the selector's, else the likeliest by markup."""
    if selector:
        chosen = _select(soup, selector)
        if chosen:
            return chosen[0]
        problems.append(f"selector {selector!r} matched nothing; looked for the article instead")
    for css in ("article", "main", *_CONTAINERS):
        candidates = [tag for tag in _select(soup, css) if not _inside_noise(tag)]
        if candidates:  # a listing page has many: the one with the most text is the post
            return max(candidates, key=lambda tag: len(tag.get_text()))
    densest = _densest_block(soup)
    if densest is not None:
        problems.append("no article body found; used the densest block")
    return densest


def _select(soup: BeautifulSoup, css: str) -> list[Tag]:
    try:
        return soup.select(css)
    except (soupsieve.SelectorSyntaxError, ValueError, NotImplementedError):
        return []


def _densest_block(soup: BeautifulSoup) -> Tag | None:
    """The element whose own paragraphs hold the most text, if any paragraph has text."""
    scores: dict[int, int] = {}
    blocks: dict[int, Tag] = {}
    for paragraph in soup.find_all("p"):
        parent = paragraph.parent
        if parent is None or _inside_noise(paragraph):
            continue
        scores[id(parent)] = scores.get(id(parent), 0) + len(fold(paragraph.get_text()))
        blocks[id(parent)] = parent
    best = max(scores, key=scores.__getitem__, default=None)
    return blocks[best] if best is not None and scores[best] > 0 else None


def _is_noise(tag: Tag) -> bool:
    """Whether `tag` is site furniture: navigation, widgets, comments, banners."""
    if tag.name in _NOISE_TAGS or tag.get("role") in _NOISE_ROLES:
        return True
    if tag.name in ("html", "body") or tag.name in _HEADINGS:
        return False
    if tag.name == "a" and fold(tag.get_text()).lower().startswith("skip to"):
        return True
    classes = [str(name) for name in tag.get("class") or () if not _TAXONOMY_CLASS.match(name)]
    names = " ".join([str(tag.get("id") or ""), *classes])
    return bool(_NOISE_NAME.search(names))


def _inside_noise(tag: Tag) -> bool:
    return _is_noise(tag) or any(_is_noise(parent) for parent in tag.parents if parent.name)


def _title(soup: BeautifulSoup, body: Tag | None) -> str:
    for scope in (body, soup):
        heading = scope.find("h1") if scope is not None else None
        if heading is not None and fold(heading.get_text(" ")):
            return excerpt(fold(heading.get_text(" ")), PAGE_TITLE_LIMIT)
    return excerpt(fold(soup.title.get_text()), PAGE_TITLE_LIMIT) if soup.title else ""


def _events(root: Tag) -> Iterator[tuple[str, Tag | str]]:
    """("start", tag), ("text", str) and ("end", tag) below `root` in document order. Iterative:
    broken pages nest thousands of elements deep, past Python's recursion limit."""
    stack = [(root, iter(root.contents))]
    while stack:
        tag, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:
                yield "end", tag
        elif isinstance(child, Tag):
            yield "start", child
            stack.append((child, iter(child.contents)))
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            yield "text", str(child)  # comments, CDATA and doctypes are not text


def _is_heading(tag: Tag) -> bool:
    """An h1, h2 or h3 with text, or a paragraph that is nothing but a short bold phrase."""
    if tag.name in _SECTION_TAGS:
        return bool(fold(tag.get_text()))
    if tag.name != "p":
        return False
    parts = [c for c in tag.contents if not isinstance(c, NavigableString) or fold(str(c))]
    if len(parts) != 1 or not isinstance(parts[0], Tag) or parts[0].name not in ("strong", "b"):
        return False
    return parts[0].find("a") is None and 0 < len(fold(parts[0].get_text())) <= PSEUDO_HEADING_LIMIT


def _walk_sections(body: Tag) -> list[_Draft]:
    """The body split at its headings; the first draft is the text before any heading."""
    drafts = [_Draft("")]
    heading: Tag | None = None  # the heading being read: its words are not section text
    for kind, node in _events(body):
        if kind == "text":
            if heading is None:
                drafts[-1].text.append(node)
        elif kind == "start" and heading is None and _is_heading(node):
            heading = node
            if node.name != "h1":
                drafts.append(_Draft(fold(node.get_text(" "))))
        elif kind == "start" and node.name == "a" and node.get("href"):
            drafts[-1].links.append(node)
        elif kind == "end" and node is heading:
            heading = None
        elif node.name in _SPACED:
            drafts[-1].text.append(" ")
    return drafts


def _editorial_first(drafts: list[_Draft]) -> list[_Draft]:
    """Make the first draft the editorial: the opening text, or the first headed section when
    nothing much comes before it."""
    opening = drafts[0]
    if len(drafts) == 1 or len(fold("".join(opening.text))) >= EDITORIAL_MIN_TEXT:
        return drafts
    first = drafts[1]
    return [_Draft("", opening.links + first.links, first.text), *drafts[2:]]


def _editorial_text(raw: str) -> str:
    """The editorial's text cut after its last whole sentence within the limit."""
    text = fold(raw)
    if len(text) <= EDITORIAL_LIMIT:
        return text
    ends = [m.start() for m in _SENTENCE_BREAK.finditer(text, 0, EDITORIAL_LIMIT + 1)]
    if ends and ends[-1] >= EDITORIAL_LIMIT // 2:
        return text[: ends[-1]]
    return excerpt(text, EDITORIAL_LIMIT)


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


def _sections(drafts: list[_Draft], base: str, own_urls: set[str]) -> tuple[WeeknoteSection, ...]:
    seen = set(own_urls)  # a link back to the page counts as already taken
    contexts = _Contexts()
    sections = []
    position = 0
    for draft in drafts:
        links = []
        for anchor in draft.links:
            target = _link_target(str(anchor["href"]), base)
            if target is None or target[1] in seen or _is_picture(anchor, target[0]):
                continue
            seen.add(target[1])
            title, blurb = contexts.describe(anchor, target[0])
            links.append(WeeknoteLink(*target, title, blurb, draft.heading, position))
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


def _link_target(href: str, base: str) -> tuple[str, str] | None:
    """The absolute and canonical URL of a link worth reading, or None for anything else."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = absolute_url(base, href)
        parts = urlsplit(url)
        canonical = canonical_url(url)
    except ValueError:  # an unparseable host such as "http://[::1"
        return None
    host = (parts.hostname or "").removeprefix("www.")
    path = parts.path.lower()
    if parts.scheme not in ("http", "https") or not host or _JUNK_HOST.search(host):
        return None
    if any(host == h and path.startswith(p) for h, p in _SHARE_URLS):
        return None
    if _ACCOUNT_PATH.search(path) or parts.fragment == "respond" or "replytocom" in parts.query:
        return None
    return url, canonical


@dataclass(frozen=True)
class _BlockText:
    """The raw text of a context block, where each link sits in it, and its sentences."""

    text: str
    spans: dict[int, tuple[int, int]]  # id(anchor) → (start, end) of its text
    link_starts: list[int]  # where each link's text starts, in order
    starts: list[int]  # sentence i is text[starts[i]:ends[i]]
    ends: list[int]
    is_item: bool  # a list item: its first sentence says what the item is about

    def sentences_around(self, start: int, end: int) -> tuple[int, int]:
        """Indexes of the first and last sentence the span [start, end) touches."""
        first = bisect_right(self.starts, start) - 1
        return first, max(first, bisect_right(self.starts, max(start, end - 1)) - 1)

    def links_within(self, start: int, end: int) -> int:
        return bisect_left(self.link_starts, end) - bisect_left(self.link_starts, start)


class _Contexts:
    """Titles and blurbs from the text around links. Each block is read once: one paragraph
    may hold thousands of links."""

    def __init__(self) -> None:
        self._blocks: dict[int, _BlockText] = {}

    def describe(self, anchor: Tag, url: str) -> tuple[str, str]:
        block = next((p for p in anchor.parents if p.name in _CONTEXT_BLOCKS), anchor)
        if id(block) not in self._blocks:
            self._blocks[id(block)] = _read_block(block)
        read = self._blocks[id(block)]
        start, end = read.spans.get(id(anchor), (0, 0))
        first, last = read.sentences_around(start, end)
        sentence = fold(read.text[read.starts[first] : read.ends[last]])
        blurb = fold(read.text) if block.name == "li" else sentence
        title = fold(read.text[start:end])
        if _is_generic(title):
            title = _title_around(read, start, end) or title or url
        return excerpt(title, TITLE_LIMIT), excerpt(blurb, BLURB_LIMIT)


def _read_block(block: Tag) -> _BlockText:
    pieces: list[str] = []
    length = 0
    opened: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    link_starts: list[int] = []
    for kind, node in _events(block):
        if kind == "text":
            pieces.append(node)
            length += len(node)
        elif node.name == "a":
            if kind == "start":
                opened[id(node)] = length
            else:
                spans[id(node)] = (opened[id(node)], length)
                link_starts.append(opened[id(node)])
        elif node.name in _SPACED:
            pieces.append(" ")
            length += 1
    text = "".join(pieces)
    breaks = list(_SENTENCE_BREAK.finditer(text))
    starts = [0, *(m.end() for m in breaks)]
    ends = [*(m.start() for m in breaks), len(text)]
    link_starts.sort()  # links close inner first, so nested ones come out of order
    return _BlockText(text, spans, link_starts, starts, ends, block.name == "li")


def _is_generic(title: str) -> bool:
    bare = title.lower().strip(" .,:;!?>\u2026\u2192\u00bb\u203a")
    return not bare or bare in _GENERIC or bool(_BARE_URL.fullmatch(bare))


def _title_around(read: _BlockText, start: int, end: int) -> str:
    """A title for a generic link: its sentence, read with the link's words in place ("the slides
    are here"), as a sentence with a hole reads badly; the clause around the link when the
    sentence holds other links too. When the sentence says too little ("Read more.", "Book
    here."), what it points back to: a list item's first sentence, else the sentence before."""
    text = read.text
    first, last = read.sentences_around(start, end)
    s_start, s_end = read.starts[first], read.ends[last]
    if _words_around(text, s_start, start, end, s_end) < WEAK_TITLE_WORDS:
        if first > 0:
            back = 0 if read.is_item else first - 1
            return _clean(text[read.starts[back] : read.ends[back]])
    elif read.links_within(s_start, s_end) > 1:
        breaks_before = _CLAUSE_BREAK.finditer(text, s_start, start)
        c_start = max((m.end() for m in breaks_before), default=s_start)
        after = _CLAUSE_BREAK.search(text, end, s_end)
        c_end = after.start() if after else s_end
        if _words_around(text, c_start, start, end, c_end) >= WEAK_TITLE_WORDS:
            s_start, s_end = c_start, c_end
    # A bare URL in the middle of a sentence is noise; words such as "here" read naturally.
    link = "" if _BARE_URL.fullmatch(fold(text[start:end])) else text[start:end]
    return _clean(text[s_start:start] + link + text[end:s_end])


def _words_around(text: str, start: int, link_start: int, link_end: int, end: int) -> int:
    """How many words text[start:end] has outside the link at [link_start, link_end)."""
    words = (text[start:link_start] + " " + text[link_end:end]).split()
    return sum(1 for word in words if _WORD_CHARACTER.search(word))  # not a lone dash or full stop


def _clean(text: str) -> str:
    return fold(text).strip(_TRIM)
