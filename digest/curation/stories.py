"""Which items are one story: pure functions, no I/O.

Two items are one story when they share a canonical URL (the link unwrapped, the page's
rel=canonical, or where its redirects ended); when their titles are almost the same and they
come from the same registered domain, or one is a weeknote link and the other a feed item; or
when a weeknote link and a feed item on the same registered domain say the same thing in other
words: most of the words of the shorter one's title and blurb are in the other's (a partner's
post about the guide the editor links to on the partner's site). Almost the same title: difflib
ratio >= 0.9 after folding, the same numbers in both, and no word in one that the other lacks
but glue words ("a", "the", "for") and respellings ("organisation"). Two weeknote links to two
addresses are two stories, whatever their words: the editor linked both. The first, in curation
order, wins.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, NamedTuple

from digest.core.models import IssueItem
from digest.core.text import normalise_heading
from digest.core.urls import canonical_url, registered_domain
from digest.curation.words import content_stems
from digest.sources.unwrap import unwrap

if TYPE_CHECKING:
    from digest.curation.heads import PageHead

MIN_TITLE_WORDS = 3
SIMILAR_TITLES = 0.9
RESPELLING = 0.75  # how alike two words must be to be one word spelled two ways
# A weeknote link and a feed item on one site are one story when this share of the words of the
# shorter one's title and blurb are in the other's, and at least SHARED_WORDS of them: on the
# offline example the two such pairs share 85% and 92%, no other pair on one site over 16%.
SAME_WORDS = 0.6
SHARED_WORDS = 5
# Words that may come and go between two titles of one story: "A toolkit for …", "Toolkit for …".
_GLUE_WORDS = frozenset({"a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "at", "by"})
_GLUE_WORDS |= {"with", "from", "about", "into", "via", "as", "its", "is", "are", "new"}
_NUMBER = re.compile(r"\d+")


class _Title(NamedTuple):
    """A title as near-duplicates are judged: folded, its words, and its bucket: the titles
    worth comparing it with are those whose words start with the same letters, glue words
    aside. Near-duplicates share those words, bar respellings, which keep their first two
    letters (see _alike); a title of under three words is compared whole. (A tuple: a build
    makes one for each of thousands of items.)"""

    folded: str
    words: list[str]
    bucket: str

    @classmethod
    def of(cls, title: str) -> _Title:
        folded = normalise_heading(title)
        words = folded.split()
        starts = sorted({word[:2] for word in words if word not in _GLUE_WORDS})
        whole = len(words) < MIN_TITLE_WORDS or not starts
        return cls(folded, words, f"={folded}" if whole else " ".join(starts))


class Duplicates:
    """Keeps one item per story, in curation order: each new item is either a new story or a
    duplicate of an earlier kept one."""

    def __init__(self) -> None:
        self.kept: list[IssueItem] = []
        self._titles: list[_Title] = []
        self._words: list[frozenset[str]] = []  # each kept item's title and blurb, as stems
        self._by_url: dict[str, int] = {}
        self._by_title: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._by_site: dict[tuple[str, str], list[int]] = defaultdict(list)

    def add(self, item: IssueItem, head: PageHead | None) -> tuple[int, str] | None:
        """None when the item is a new story (it is kept); else the index in `kept` of the
        earlier item it duplicates, and why."""
        urls = list(page_urls(item, head))
        for url in urls:
            if url in self._by_url:
                return self._by_url[url], "same page as"
        title, domain = _Title.of(item.title), registered_domain(item.url)
        words = frozenset(content_stems(f"{item.title} {item.blurb}"))
        # A weeknote link is compared with the feed items, a feed item with its own domain's
        # and with the weeknote's links; words with the other origin's items on the same site.
        mine, other = (
            ("*weeknote", "*feed") if item.origin == "weeknote" else ("*feed", "*weeknote")
        )
        for scope in (other,) if item.origin == "weeknote" else (domain, other):
            for index in self._by_title.get((scope, title.bucket), ()):
                if _similar(title, self._titles[index]):
                    return index, "almost the same title as"
        for index in self._by_site.get((other, domain), ()):
            if _same_words(words, self._words[index]):
                return index, "the same words as"
        index = len(self.kept)
        self.kept.append(item)
        self._titles.append(title)
        self._words.append(words)
        for url in urls:
            self._by_url.setdefault(url, index)
        for scope in (domain, mine):
            self._by_title[(scope, title.bucket)].append(index)
        self._by_site[(mine, domain)].append(index)
        return None


def _same_words(words: frozenset[str], others: frozenset[str]) -> bool:
    shared = len(words & others)
    return shared >= SHARED_WORDS and shared >= SAME_WORDS * min(len(words), len(others))


def page_urls(item: IssueItem, head: PageHead | None) -> Iterator[str]:
    """The canonical URLs an item is known by: its own, unwrapped, and the page's canonical and
    final URLs."""
    yield item.canonical_url
    unwrapped = unwrap(item.url)
    if unwrapped != item.url:
        yield canonical_url(unwrapped)
    if head is not None:
        for url in (head.canonical, head.final_url):
            if url:
                yield canonical_url(url)


def _similar(a: _Title, b: _Title) -> bool:
    """Almost the same title: 90% alike by difflib, with the same numbers, and every word one
    has and the other lacks a glue word ("a", "the") or a respelling of one the other has
    ("organisation"), so that "Trust pilots video clinics" and "Trust ends video clinics", or
    "Plan A" and "Plan B", stay two stories."""
    if a.folded == b.folded:
        return True
    if _NUMBER.findall(a.folded) != _NUMBER.findall(b.folded):
        return False  # "Weeknote 48" and "Weeknote 49" are two things
    a_only = [w for w in a.words if w not in b.words]
    b_only = [w for w in b.words if w not in a.words]
    total = len(a.folded) + len(b.folded)
    if sum(map(len, a_only + b_only)) > 4 * (1 - SIMILAR_TITLES) * total:
        return False  # too much differs for difflib to find 90% (a cheap bound first)
    if not (_respelled(a_only, b_only) and _respelled(b_only, a_only)):
        return False
    return SequenceMatcher(None, a.folded, b.folded, autojunk=False).ratio() >= SIMILAR_TITLES


def _respelled(words: list[str], others: list[str]) -> bool:
    """Whether each of `words`, glue words aside, is spelled much like one of `others`."""
    return all(
        any(_alike(word, other) for other in others) for word in words if word not in _GLUE_WORDS
    )


def _alike(word: str, other: str) -> bool:
    """One word spelled two ways ("organisation", "organization"; "launched", "launches"): the
    same first two letters, lengths within two, and 75% alike by difflib."""
    if word[:2] != other[:2] or abs(len(word) - len(other)) > 2:
        return False
    return SequenceMatcher(None, word, other).ratio() >= RESPELLING
