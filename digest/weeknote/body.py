"""A weeknote page's article body, found and cleared of furniture.

Choices:
- A configured selector's first match outside a header, nav, footer or aside is the body; when
  every match is inside one, the longest is used anyway, with a problem line saying so.
- Without a selector: the longest article, main or usual content container outside those
  landmarks (a class name can be the post's own: Substack's "newsletter-post"); else the
  innermost element holding 80% of the page's prose (an email's table cell); the whole page,
  with a problem line, when no element does.
- Furniture is removed before anything is read (digest.weeknote.furniture), and with it, by content:
  a short block that is a byline or post meta ("5 min read", "Posted by … on …", "3 March ·
  by …", "Tags: …"), a line of nothing but furniture links, a picture credit, a sign-up card
  (a form asking for an email address, heading and all), and a line repeating the page's title
  (a published document's title line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import soupsieve
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from digest.core.text import fold
from digest.weeknote.furniture import (
    inside_furniture,
    inside_landmark,
    is_furniture,
    is_furniture_link,
    same_site,
)

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CONTAINERS = (".entry-content", ".post-content", ".article-body", "#content", ".content")
# The elements whose text is a link's context: the nearest one around a link holds its sentence.
CONTEXT_BLOCKS = {"p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption", "pre"}
CONTEXT_BLOCKS |= _HEADINGS | {"div", "section", "article", "main", "body", "summary"}
# Elements whose edges separate words in plain text.
SPACED = CONTEXT_BLOCKS | {"br", "ul", "ol", "dl", "tr", "table", "hr", "figure", "details"}
_READ_TIME = re.compile(r"\b\d+\s*min(?:ute)?s?\s*read\b", re.I)
_META_LABEL = re.compile(
    r"(?:by|posted|published|written|submitted|updated|last updated|tags?|tagged|labels?"
    r"|categor(?:y|ies)|filed under)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug"
    r"|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b|\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
    r"|nov|dec))",
    re.I,
)
# A picture's credit line: "Photo by Clare Webb on Unsplash", "Image: NHS England".
_CREDIT = re.compile(
    r"(?:(?:cover |header |feature )?(?:photo(?:graph)?|image|picture|illustration)s? (?:by|from|"
    r"courtesy of)|(?:photo|image|picture) ?(?:credit)?:|credit:|\u00a9)",
    re.I,
)
_BY = re.compile(r"\bby\b", re.I)
_DATE_OPENING = 30  # a dateline opens with its date ("Friday 6 March 2026 · by …")
_LINE_BLOCKS = {"p", "div", "small", "address", "time"}
# Elements a byline, a line of post meta or a credit is written in.
_META_BLOCKS = {"p", "div", "span", "section", "small", "address", "time", "figcaption", "ul"}
_META_BLOCKS |= {"ol", "dl", "table", "header", "footer"}
# Blocks that can be a line of furniture links; not inline ones such as a footnote's <sup>.
_LINK_BLOCKS = {"p", "div", "ul", "ol", "dl", "section", "table", "span"}
_PROSE = ["p", "li", "h2", "h3", "h4"]
_ABOVE_BODY = {"html", "[document]"}
_MOST = 0.8  # the share of the page's prose the article body holds, at least
META_LIMIT = 160  # a byline or a line of post meta is short
# Characters besides its links that a line of furniture links may have (" · ", "Tags: ").
_LINK_ONLY_SLACK = 15
# A line that is a date and nothing else ("Friday 29 September 2023", "5 Jan 2024, 10:30"): the
# post's date, above or below its opening.
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_LINE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}\s*(?:am|pm)?)?",
    re.I,
)
# What a block of links to a post's neighbours says besides their titles: "Previous: …",
# "Next post →", "← Older".
_ARROWS = "[\\s:|\u00b7\u00ab\u00bb\u2039\u203a<>\u2190-\u21ff-]*"
_NEIGHBOUR_LABELS = re.compile(
    _ARROWS
    + r"(?:(?:previous|next|older|newer)(?: (?:post|posts|article|entry|page))?"
    + _ARROWS
    + ")+",
    re.I,
)
_NEIGHBOUR_BLOCKS = {"ul", "ol", "nav", "div", "p"}
# What a table of contents says besides its links: a label at most.
_CONTENTS_LABEL = re.compile(
    r"(?:table of contents|contents|on this page|in this (?:post|article|issue)|jump to)?\s*:?",
    re.I,
)
_CONTENTS_BLOCKS = {"ul", "ol", "nav", "div", "details", "section", "p"}


def find_body(soup: BeautifulSoup, selector: str | None, problems: list[str]) -> Tag | None:
    """The element holding the article: the selector's, else the likeliest by markup."""
    if selector:
        matches = select(soup, selector)
        outside = [tag for tag in matches if not inside_landmark(tag)]
        if outside:
            return outside[0]
        if matches:
            problems.append(
                f"selector {selector!r} matched only inside a header, nav, footer or aside; "
                "used its longest match anyway"
            )
            return max(matches, key=lambda tag: len(tag.get_text()))
        problems.append(f"selector {selector!r} matched nothing; looked for the article instead")
    for css in ("article", "main", "[role=main]", *_CONTAINERS):
        # Landmarks only: a class name can be the post's own ("newsletter-post").
        candidates = [tag for tag in select(soup, css) if not inside_landmark(tag)]
        if candidates:  # a listing page has many: the one with the most text is the post
            return max(candidates, key=lambda tag: len(tag.get_text()))
    block = _prose_block(soup)
    if block is not None and block.name == "body":
        problems.append("no article body found; read the whole page")
    return block


def select(soup: BeautifulSoup, css: str) -> list[Tag]:
    try:
        return soup.select(css)
    except (soupsieve.SelectorSyntaxError, ValueError, NotImplementedError):
        return []


def _prose_block(soup: BeautifulSoup) -> Tag | None:
    """The innermost element holding most of the page's prose (an email's table cell around
    its sections), or None if no paragraph has text."""
    totals: dict[int, int] = {}
    chains: list[list[Tag]] = []
    whole = 0
    for paragraph in soup.find_all(_PROSE):
        if paragraph.find_parent(_PROSE) is not None or inside_furniture(paragraph):
            continue
        length = len(fold(paragraph.get_text()))
        whole += length
        chain = [parent for parent in paragraph.parents if parent.name not in _ABOVE_BODY]
        for parent in chain:
            totals[id(parent)] = totals.get(id(parent), 0) + length
        chains.append(chain)
    if whole == 0:
        return None
    # The elements holding most of the prose are one line of ancestors: the deepest is wanted.
    held = [
        (len(chain) - index, parent)
        for chain in chains
        for index, parent in enumerate(chain)
        if totals[id(parent)] >= _MOST * whole
    ]
    return max(held, key=lambda pair: pair[0], default=(0, None))[1]


def remove_furniture(body: Tag, page_url: str, own_hosts: set[str], title: str) -> None:
    """Remove widgets, landmarks, hidden blocks, bylines and post meta from inside `body`, and
    a block that repeats the page's title (a document's title line)."""
    lengths = _text_lengths(body)
    stack = [body]
    while stack:  # outer elements first, and none below one removed
        for tag in [child for child in stack.pop().contents if isinstance(child, Tag)]:
            if (
                is_furniture(tag)
                or (
                    tag.name in _META_BLOCKS
                    and 0 < lengths.get(id(tag), 0) <= META_LIMIT
                    and (_is_meta_block(tag, page_url, own_hosts) or _is_title_line(tag, title))
                )
                or _is_contents(tag)
                or _is_neighbours(tag, page_url, own_hosts)
            ):
                tag.decompose()
            else:
                stack.append(tag)


def _is_contents(tag: Tag) -> bool:
    """A table of contents: a block of two or more links, all to places on this page, with
    nothing else but a label ("Table of contents"), however long its list."""
    if tag.name not in _CONTENTS_BLOCKS:
        return False
    links = tag.find_all("a", href=True)
    if len(links) < 2 or not all(str(a["href"]).strip().startswith("#") for a in links):
        return False
    return _CONTENTS_LABEL.fullmatch(_text_besides(tag, links)) is not None


def _is_neighbours(tag: Tag, page_url: str, own_hosts: set[str]) -> bool:
    """Links to the posts before and after this one ("Previous: Weeknote 47", "Next →"): one or
    two links to this site whose only other words are those labels."""
    if tag.name not in _NEIGHBOUR_BLOCKS:
        return False
    links = tag.find_all("a", href=True)
    if not 0 < len(links) <= 2 or tag.find(_is_heading_element) is not None:
        return False
    besides = _text_besides(tag, links)
    if not besides or _NEIGHBOUR_LABELS.fullmatch(besides) is None:
        return False
    hosts = {urlsplit(urljoin(page_url, str(a["href"]).strip())).hostname for a in links}
    return all(host and same_site(host, own_hosts) for host in hosts)


def _text_besides(tag: Tag, links: list[Tag]) -> str:
    """The words of `tag` outside the links in it."""
    text = fold(tag.get_text(" "))
    for link in links:
        text = text.replace(fold(link.get_text(" ")), " ", 1)
    return fold(text)


def _is_title_line(tag: Tag, title: str) -> bool:
    return tag.name in ("p", "div") and fold(tag.get_text(" ")) == title


def _text_lengths(body: Tag) -> dict[int, int]:
    """The length of every element's text, in one pass (get_text on each would be quadratic)."""
    lengths: dict[int, int] = {}
    open_lengths = [0]
    for kind, node in events(body):
        if kind == "text":
            open_lengths[-1] += len(node)
        elif kind == "start":
            open_lengths.append(0)
        else:
            inner = open_lengths.pop()
            lengths[id(node)] = inner
            open_lengths[-1] += inner
    return lengths


def _is_meta_block(tag: Tag, page_url: str, own_hosts: set[str]) -> bool:
    """A byline or line of post meta: a reading time; a label ("Posted by", "Tags:") over a date
    or over links that are all furniture (author pages, tag listings); or nothing much but such
    links ("Weeknotes" linking to its category)."""
    if tag.find("input", attrs={"type": "email"}) is not None:
        return True  # a sign-up card: its heading goes with it
    if tag.find(_is_heading_element) is not None:
        return False
    text = fold(tag.get_text(" "))
    if _READ_TIME.search(text) or _CREDIT.match(text):
        return True
    links = tag.find_all("a", href=True)
    if not links:  # "Posted on 3 March", "Friday 6 March · compiled by Sam", not "By 2030, …"
        if tag.name not in _LINE_BLOCKS or len(text) > 100:
            return False
        if _META_LABEL.match(text) is not None:
            return tag.find("time") is not None or _DATE.search(text) is not None
        if _DATE_LINE.fullmatch(text) is not None:
            return True
        return _DATE.search(text[:_DATE_OPENING]) is not None and _BY.search(text) is not None
    if not all(_is_furniture_anchor(link, page_url, own_hosts) for link in links):
        return False
    link_text = sum(len(fold(link.get_text(" "))) for link in links)
    only_links = len(text) - link_text <= _LINK_ONLY_SLACK and tag.name in _LINK_BLOCKS
    labelled = _META_LABEL.match(text) or _DATE.search(text[:_DATE_OPENING])
    return labelled is not None or only_links


def _is_furniture_anchor(anchor: Tag, page_url: str, own_hosts: set[str]) -> bool:
    """Whether a link is furniture, an in-page link (a table of contents) counting as one."""
    if str(anchor["href"]).strip().startswith("#"):
        return True
    try:
        parts = urlsplit(urljoin(page_url, str(anchor["href"]).strip()))
    except ValueError:
        return True
    return is_furniture_link(anchor, parts, own_hosts)


def _is_heading_element(tag: Tag) -> bool:
    return tag.name in _HEADINGS or tag.get("role") == "heading"


def events(root: Tag) -> Iterator[tuple[str, Tag | str]]:
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
