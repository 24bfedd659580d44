"""Plain text from untrusted HTML fragments: tags dropped, whitespace, controls and invisible
format characters folded."""

from __future__ import annotations

import functools
import html
import re

# Every control character (C0, DEL, C1) and every kind of whitespace, line separators included.
_FOLD = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b\ufeff]+")
# Unicode's invisible format characters (category Cf) but the zero-width space and BOM above,
# which separate words, and the joiners U+200C/U+200D, which emoji sequences and Persian and
# Indic scripts need. The rest can only mislead: bidi overrides and isolates turn a title or a
# file name around on the reader's screen or terminal ("\u202egnp.exe"), and tag characters
# carry text no one sees. Up to Unicode 15.
FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
_FORMAT = re.compile(f"[{FORMAT_CHARACTERS}]+")
_BLOCKS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "blockquote",
    "section",
    "article",
    "figure",
    "figcaption",
    "table",
    "pre",
    "hr",
}


APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc]")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


@functools.lru_cache(maxsize=4096)  # feed categories repeat across thousands of items
def normalise_heading(text: str) -> str:
    """A key that ignores case, punctuation and spacing: "Health & care!" → "health and care"."""
    # Apostrophes join words ("Martha's" → "marthas") rather than split them, straight or curly.
    text = APOSTROPHES.sub("", text.casefold())
    text = text.replace("&", " and ")
    return fold(_PUNCTUATION.sub(" ", text))


def fold(text: str) -> str:
    """One line of text: invisible format characters dropped, then runs of whitespace and
    control characters become a single space."""
    if not text.isascii():  # format characters are not: most text skips the search
        text = _FORMAT.sub("", text)
    return _FOLD.sub(" ", text).strip()


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment, on one line; scripts and styles dropped."""
    if "<" not in fragment:
        return fold(html.unescape(fragment))
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fold(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for element in list(root.iter()):
        if element is root:
            continue
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "template"):
            element.drop_tree()  # comments and processing instructions too
        elif element.tag in _BLOCKS:
            element.tail = " " + (element.tail or "")
    return fold(root.text_content())


def excerpt(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


def long_date(moment) -> str:
    """An issue's date as readers see it: "25 November 2026" (no zero padding)."""
    return f"{moment.day} {moment:%B %Y}"


def short_date(moment) -> str:
    """An item's date beside its source: "24 Nov"."""
    return f"{moment.day} {moment:%b}"


def plural(count: int, noun: str) -> str:
    """ "1 issue", "3 issues", "2 batches": the count and the noun it agrees with (regular
    English plurals only)."""
    if count == 1:
        return f"{count} {noun}"
    ending = "es" if noun.endswith(("s", "x", "z", "ch", "sh")) else "s"
    return f"{count} {noun}{ending}"
