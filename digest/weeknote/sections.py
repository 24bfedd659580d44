"""A weeknote body split into sections at its headings.

Choices:
- Headings are h1-h4, `role="heading"` elements (their aria-level is their level), and, ranked
  below h4: a paragraph that is only a short bold phrase, a bold phrase opening a paragraph
  before a line break, and the summary of a `<details>` block.
- The body's sections are at the shallowest level of h1-h4 that occurs more than once; deeper
  headings are sub-headings, whose words are their section's text. Bold phrases and summaries
  are section headings too unless the body has real sub-headings. With no level repeated every
  heading starts a section. The body's first h1 is the page's title and starts none.
- A heading that closes a post ("Share this", "Related posts", "Comments", "More from …") ends
  the article: nothing after it is read.
- A footnote is read into the section that first cites it, and its words are no section's
  text; a heading over nothing but footnotes ("Notes") is no section.
- Each link keeps the sub-headings it stands under inside its section ("Updates from the
  community", then "Newsletters"), which learning may read as the editor's labels.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from bs4 import NavigableString, Tag

from digest.core.text import fold
from digest.weeknote.body import SPACED, events

PSEUDO_HEADING_LIMIT = 80
_PSEUDO_LEVEL = 5  # bold paragraphs and summaries rank below every real heading
_TITLE_LEVEL = 0
_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_HEADING_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_BOLD = {"strong", "b"}
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(?:bold|[6-9]00)", re.I)
# A bold phrase inside one of these is part of a sentence or an item, not a heading.
_INLINE_PARENTS = {"a", "span", "em", "i", "strong", "b", "li", "dt", "dd", "summary"}
_LINE_ENDS = {"br", "p", "div", "ul", "ol", "table", "hr", "figure", "blockquote", "section"}
# Elements a footnote is written in, when its anchor is an inline element inside one.
_NOTE_BLOCKS = {"li", "p", "div", "aside", "section", "dd", "td"}
# A footnote's or a document comment's mark: "1", "[2]", "(iv)", "[a]", "*", "†".
_REFERENCE_TEXT = re.compile(
    r"[\[(]?(?:\d{1,3}|[ivx]{1,4}|[*\u2020\u2021\u00a7])[\])]?|\[[a-z]{1,2}\]"
)
_CLOSING_HEADING = re.compile(
    r"(?:share|share this(?: post| page| article)?|like this|related|related (?:posts|articles"
    r"|stories|content)|more from .+|recommended(?: from .+)?|read next|you (?:might|may)"
    r" also like|comments(?: \(\d+\))?|\d+ comments?|\d+ responses?|responses"
    r"|leave a (?:reply|comment)|discussion about this post|ready for more|post navigation"
    r"|about the author|written by .+|subscribe to .+|tags|categories)",
    re.I,
)


@dataclass
class Draft:
    """A section while the page is walked: its link elements and its raw text."""

    heading: str
    links: list[Tag] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    footnotes: int = 0  # footnotes that stood here, read into the sections citing them
    # For each link, the sub-headings it stands under inside the section, outermost first.
    subheadings: list[tuple[str, ...]] = field(default_factory=list)


def heading_level(tag: Tag) -> int | None:
    """The level of `tag` as a heading (1-4, or below them for bold phrases and summaries), or
    None if it is not one."""
    level = _own_level(tag)
    if level is not None and tag.find_parent("a") is not None:
        return None  # the title of a link laid out as a card
    return level


def _own_level(tag: Tag) -> int | None:
    if tag.get("role") == "heading":
        level = str(tag.get("aria-level") or "").strip()
        number = int(level) if level.isdigit() else _LEVELS.get(tag.name, 2)
        return number if number <= 4 and fold(tag.get_text()) else None
    if tag.name in _LEVELS:
        return _LEVELS[tag.name] if fold(tag.get_text()) else None
    if tag.name == "summary" and tag.parent is not None and tag.parent.name == "details":
        return _PSEUDO_LEVEL if fold(tag.get_text()) else None
    return _PSEUDO_LEVEL if _is_bold_phrase(tag) else None


def _is_bold_phrase(tag: Tag) -> bool:
    """A paragraph that is nothing but a short bold phrase, or a short bold phrase on a line of
    its own: after a line break (or first in its block) and before one."""
    if tag.name == "p":
        parts = [c for c in tag.contents if not isinstance(c, NavigableString) or fold(str(c))]
        return len(parts) == 1 and _is_short_bold(parts[0])
    if not _is_short_bold(tag) or tag.parent is None or tag.parent.name in _INLINE_PARENTS:
        return False
    before, after = _sibling(tag, "previous_sibling"), _sibling(tag, "next_sibling")
    opens_line = before is None or (isinstance(before, Tag) and before.name in _LINE_ENDS)
    return opens_line and isinstance(after, Tag) and after.name == "br"


def _sibling(tag: Tag, direction: str):
    """The nearest sibling that is an element or holds text, or None."""
    node = getattr(tag, direction)
    while isinstance(node, NavigableString) and not fold(str(node)):
        node = getattr(node, direction)
    return node


def _is_short_bold(node) -> bool:
    if not isinstance(node, Tag):
        return False
    bold = node.name in _BOLD or _BOLD_STYLE.search(str(node.get("style") or "")) is not None
    if not bold or node.find("a") is not None:
        return False
    return 0 < len(fold(node.get_text())) <= PSEUDO_HEADING_LIMIT


def is_closing(heading: Tag) -> bool:
    text = fold(heading.get_text(" ")).strip(" .:!?\u2026").lower()
    return _CLOSING_HEADING.fullmatch(text) is not None


def _levels(body: Tag) -> tuple[dict[int, int], int]:
    """Every heading of the body up to the article's end, with its level (the title's is 0),
    and the level the body's sections are at."""
    levels: dict[int, int] = {}
    title_seen = False
    for tag in body.find_all(True):
        level = heading_level(tag)
        if level is None or any(id(parent) in levels for parent in _up_to(tag, body)):
            continue
        if is_closing(tag):
            levels[id(tag)] = -1
            break
        if level == 1 and not title_seen:
            level, title_seen = _TITLE_LEVEL, True
        levels[id(tag)] = level
    real = Counter(level for level in levels.values() if 0 < level < _PSEUDO_LEVEL)
    repeated = [level for level, count in real.items() if count > 1]
    if not repeated:
        return levels, _PSEUDO_LEVEL  # every heading starts a section
    section_level = min(repeated)
    if max(real) == section_level:
        # No real sub-headings: bold phrases and summaries stand in for section headings.
        levels = {key: min(level, section_level) for key, level in levels.items()}
    return levels, section_level


def _up_to(tag: Tag, root: Tag):
    """The parents of `tag` below `root`, nearest first, at most a few: headings nest shallowly
    (a bold phrase in a paragraph), and deep pages must stay linear."""
    parent = tag.parent
    for _ in range(3):
        if parent is None or parent is root:
            return
        yield parent
        parent = parent.parent


def footnotes(body: Tag) -> dict[int, Tag]:
    """The footnotes of the body, by the id() of each reference to one: a short in-page link
    ("1", "[2]", "*") to an element that comes after it."""
    order = {id(tag): index for index, tag in enumerate(body.find_all(True))}
    targets = {str(tag["id"]): tag for tag in body.find_all(id=True)}
    targets.update({str(t["name"]): t for t in body.find_all("a", attrs={"name": True})})
    notes: dict[int, Tag] = {}
    for anchor in body.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        target = targets.get(href[1:]) if href.startswith("#") else None
        if target is None or not _REFERENCE_TEXT.fullmatch(fold(anchor.get_text())):
            continue
        note = target
        while note is not None and note.name not in _NOTE_BLOCKS:
            note = note.parent
        if note is None or note is body or order.get(id(note), -1) < order[id(anchor)]:
            continue
        if note.find(_HEADING_TAGS) is None:  # a section, not a note: a table of contents' link
            notes[id(anchor)] = note
    return notes


def walk_sections(body: Tag) -> list[Draft]:
    """The body split at its section headings; the first draft is the text before any."""
    walker = _Walker(body)
    for kind, node in events(body):
        if kind == "text":
            walker.text(node)
        elif kind == "end":
            walker.end(node)
        elif not walker.start(node):
            break  # the article ends here
    drafts = walker.drafts
    return [d for d in drafts if d.links or fold("".join(d.text)) or not d.footnotes]


class _Walker:
    """Reads a body's events into drafts: one per section, footnotes into the citing one."""

    def __init__(self, body: Tag) -> None:
        self.levels, self.section_level = _levels(body)
        self.notes = footnotes(body)
        self.note_ids = {id(note) for note in self.notes.values()}
        self.cited: dict[int, Draft] = {}  # id(footnote) → the draft that first cites it
        self.drafts = [Draft("")]
        self.heading: Tag | None = None  # the heading being read: its words are no section's
        self.path: list[
            tuple[int, str]
        ] = []  # the sub-headings read in this section: (level, words)
        self.diverted: list[tuple[Tag, Draft]] = []  # the footnotes being read, innermost last

    def _reading(self) -> Draft:
        return self.diverted[-1][1] if self.diverted else self.drafts[-1]

    def text(self, text: str) -> None:
        if self.heading is None and not self.diverted:
            self.drafts[-1].text.append(text)

    def end(self, node: Tag) -> None:
        if node is self.heading:
            self.heading = None
        elif self.diverted and node is self.diverted[-1][0]:
            self.diverted.pop()
        elif node.name in SPACED:
            self.text(" ")

    def start(self, node: Tag) -> bool:
        """Read an element's start; False when it ends the article."""
        level = self.levels.get(id(node)) if self.heading is None else None
        if level is not None and not self.diverted:
            if level < 0:
                return False
            if level <= self.section_level:
                self.heading = node
                self.path = []
                if level != _TITLE_LEVEL:
                    self.drafts.append(Draft(fold(node.get_text(" "))))
                return True
            self.path = [(deeper, words) for deeper, words in self.path if deeper < level]
            self.path.append((level, fold(node.get_text(" "))))
        if id(node) in self.note_ids:
            self.drafts[-1].footnotes += 1
            self.diverted.append((node, self.cited.get(id(node), self._reading())))
        elif node.name == "a" and node.get("href"):
            self._reading().links.append(node)
            self._reading().subheadings.append(tuple(words for _, words in self.path))
            if id(node) in self.notes:
                self.cited.setdefault(id(self.notes[id(node)]), self.drafts[-1])
        elif node.name in SPACED:
            self.text(" ")
        return True
