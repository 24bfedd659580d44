"""Titles and blurbs for weeknote links, from the text around each link.

A link's own words are its title when they say what it is. A generic text ("here", "read more",
"register") is replaced by its sentence, read with the link's words in place ("the slides are
here"; a bare URL is left out), or by the clause around the link when the sentence holds other
links too; when the sentence says too little ("Read more.", "Book here."), by what such links
point back to: a list item's first sentence, else the sentence before. Every title is
sentence-cased and loses trailing punctuation and dashes.

Each block is read once and every question about it is answered by bisection, so a paragraph of
thousands of links costs no more than thousands of paragraphs of one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from bs4 import NavigableString, Tag

from digest.core.text import excerpt, fold
from digest.weeknote.body import CONTEXT_BLOCKS, SPACED, events

TITLE_LIMIT = 120
BLURB_LIMIT = 240
# A title made from the words around a link says too little below this ("Book", "Find out in").
WEAK_TITLE_WORDS = 5
# Raw characters read either side of a link for its title: more than TITLE_LIMIT, so only
# pathological runs of whitespace could make a title shorter than it would be read whole.
_TITLE_WINDOW = 3 * TITLE_LIMIT
_GENERIC = frozenset(
    {"here", "this", "read more", "more", "click here", "this article", "this report"}
    | {"this page", "link", "learn more", "find out more", "continue reading", "this link"}
    | {"this guide", "this blog", "this post", "full report", "the full report"}
    # Calls to action name what to do, not what the link is.
    | {"register", "register here", "book", "book now", "book here", "book a place"}
    | {"sign up", "sign up here", "apply", "apply now", "apply here", "download"}
)
_CARD_BLOCKS = ["div", "p", "h2", "h3", "h4", "h5", "h6", "figcaption"]
_BARE_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
# Where one sentence ends and the next begins: the closing punctuation stays with the first.
_SENTENCE_BREAK = re.compile("(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*\\s+")
_CLAUSE_BREAK = re.compile("[,;:\u2013\u2014()]")
_WORD = re.compile(r"\S*\w\S*")  # a lone dash or full stop is no word
_TRIM = " .,;:-\u2013\u2014"
_TRAILING = ".,;:-\u2013\u2014"
# Skipped before the letter that sentence case raises: "“making data fun”" → "“Making data fun”".
_OPENING = "\"'\u201c\u2018\u00ab([{"


@dataclass
class _BlockText:
    """The raw text of a context block, where each link sits in it, its sentences, clause
    breaks and words, each as a sorted list of positions."""

    text: str
    spans: dict[int, tuple[int, int]]  # id(anchor) → (start, end) of its text
    link_starts: list[int]
    starts: list[int]  # sentence i is text[starts[i]:ends[i]]
    ends: list[int]
    clause_breaks: list[int]
    word_starts: list[int]
    is_item: bool  # a list item: its first sentence says what the item is about
    folded: dict[tuple[int, int], str] = field(default_factory=dict)

    def sentences_around(self, start: int, end: int) -> tuple[int, int]:
        """Indexes of the first and last sentence the span [start, end) touches."""
        first = bisect_right(self.starts, start) - 1
        return first, max(first, bisect_right(self.starts, max(start, end - 1)) - 1)

    def links_within(self, start: int, end: int) -> int:
        return bisect_left(self.link_starts, end) - bisect_left(self.link_starts, start)

    def words_within(self, start: int, end: int) -> int:
        return max(0, bisect_left(self.word_starts, end) - bisect_left(self.word_starts, start))

    def excerpt_of(self, start: int, end: int, limit: int) -> str:
        """text[start:end] folded and cut to `limit`, computed once per span: the links of
        one sentence share it."""
        key = (start, end)
        if key not in self.folded:
            self.folded[key] = excerpt(fold(self.text[start:end]), limit)
        return self.folded[key]


class Contexts:
    """Titles and blurbs from the text around links, each block read once."""

    def __init__(self) -> None:
        self._blocks: dict[int, _BlockText] = {}

    def describe(self, anchor: Tag, url: str) -> tuple[str, str, str]:
        """The link's title, its blurb, and its own words as written."""
        block = next((p for p in anchor.parents if p.name in CONTEXT_BLOCKS), anchor)
        if id(block) not in self._blocks:
            self._blocks[id(block)] = _read_block(block)
        read = self._blocks[id(block)]
        start, end = read.spans.get(id(anchor), (0, 0))
        first, last = read.sentences_around(start, end)
        if read.is_item:
            blurb = read.excerpt_of(0, len(read.text), BLURB_LIMIT)
        else:
            blurb = read.excerpt_of(read.starts[first], read.ends[last], BLURB_LIMIT)
        words = fold(read.text[start:end])
        title = _card_title(anchor) or words
        if is_generic(title):
            title = _title_around(read, start, end) or title
        return finish_title(excerpt(title, TITLE_LIMIT)) or url, blurb, excerpt(words, TITLE_LIMIT)


def _card_title(anchor: Tag) -> str:
    """The title of a link laid out as a card (a bookmark with its title, description and
    address in blocks of their own): the words of its first block without a picture. "" for an
    ordinary link."""
    if all(isinstance(child, NavigableString) for child in anchor.contents):
        return ""  # the usual link, words only: no blocks to look through
    for block in anchor.find_all(_CARD_BLOCKS):
        # A row with a picture is the publisher's logo and name, above the title.
        if block.find([*_CARD_BLOCKS, "img"]) is None and fold(block.get_text(" ")):
            return fold(block.get_text(" "))
    return ""


def _read_block(block: Tag) -> _BlockText:
    pieces: list[str] = []
    length = 0
    opened: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    link_starts: list[int] = []
    for kind, node in events(block):
        if kind == "text":
            pieces.append(node)
            length += len(node)
        elif node.name == "a":
            if kind == "start":
                opened[id(node)] = length
            else:
                spans[id(node)] = (opened[id(node)], length)
                link_starts.append(opened[id(node)])
        elif node.name in SPACED:
            pieces.append(" ")
            length += 1
    text = "".join(pieces)
    breaks = list(_SENTENCE_BREAK.finditer(text))
    link_starts.sort()  # links close inner first, so nested ones come out of order
    return _BlockText(
        text=text,
        spans=spans,
        link_starts=link_starts,
        starts=[0, *(m.end() for m in breaks)],
        ends=[*(m.start() for m in breaks), len(text)],
        clause_breaks=[m.start() for m in _CLAUSE_BREAK.finditer(text)],
        word_starts=[m.start() for m in _WORD.finditer(text)],
        is_item=block.name == "li",
    )


def is_generic(title: str) -> bool:
    bare = title.lower().strip(" .,:;!?>\u2026\u2192\u00bb\u203a")
    return not bare or bare in _GENERIC or bool(_BARE_URL.fullmatch(bare))


def _title_around(read: _BlockText, start: int, end: int) -> str:
    """A title for a generic link: its sentence with the link's words in place; the clause
    around the link when the sentence holds other links too; what a sentence that says too
    little points back to."""
    first, last = read.sentences_around(start, end)
    s_start, s_end = read.starts[first], read.ends[last]
    if _words_around(read, s_start, start, end, s_end) < WEAK_TITLE_WORDS:
        if first > 0:
            back = 0 if read.is_item else first - 1
            return _clean(read.text[read.starts[back] : read.ends[back]][:_TITLE_WINDOW])
    elif read.links_within(s_start, s_end) > 1:
        before = bisect_left(read.clause_breaks, start) - 1
        c_start = s_start
        if before >= 0 and read.clause_breaks[before] >= s_start:
            c_start = read.clause_breaks[before] + 1
        after = bisect_left(read.clause_breaks, end)
        c_end = s_end
        if after < len(read.clause_breaks) and read.clause_breaks[after] < s_end:
            c_end = read.clause_breaks[after]
        if _words_around(read, c_start, start, end, c_end) >= WEAK_TITLE_WORDS:
            s_start, s_end = c_start, c_end
    text = read.text
    # A bare URL in the middle of a sentence is noise; words such as "here" read naturally.
    link = "" if _BARE_URL.fullmatch(fold(text[start:end])) else text[start:end]
    before_link = text[s_start:start][:_TITLE_WINDOW]
    return _clean(before_link + link + text[end:s_end][:_TITLE_WINDOW])


def _words_around(read: _BlockText, start: int, link_start: int, link_end: int, end: int) -> int:
    """How many words text[start:end] has outside the link at [link_start, link_end)."""
    return read.words_within(start, link_start) + read.words_within(link_end, end)


def _clean(text: str) -> str:
    return fold(text).strip(_TRIM)


def finish_title(title: str) -> str:
    """`title` without trailing punctuation or dashes, its first letter raised when it starts
    lower-case: "toolkit for reception teams." → "Toolkit for reception teams". A first word
    with capitals of its own ("iPhone", "eConsult") or a bare address is left as it is."""
    title = title.rstrip().rstrip(_TRAILING).rstrip()
    if _BARE_URL.match(title):
        return title
    opening = len(title) - len(title.lstrip(_OPENING))
    first_word = title[opening:].split(" ", 1)[0]
    if first_word[:1].islower() and first_word[1:] == first_word[1:].lower():
        return title[:opening] + first_word[0].upper() + title[opening + 1 :]
    return title
