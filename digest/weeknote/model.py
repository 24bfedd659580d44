"""What the weeknote says, as the extractor (digest.weeknote.extract) gives it: apart from it, so
that code which only holds a weeknote does not load the HTML parser."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class WeeknoteLink:
    url: str  # absolute
    canonical_url: str
    title: str
    blurb: str
    section: str  # heading of the section it sits in; "" for the editorial
    position: int  # 0-based order among the page's links
    # The link's own words as the page has them, before a generic text is replaced and before
    # sentence case: "toolkit for reception teams" shows it was a fragment of a sentence.
    link_text: str = ""
    subheadings: tuple[str, ...] = ()  # the headings over it inside its section, outermost first


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

    def identity(self) -> str | None:
        """A hash of what the weeknote says (its editorial, headings and links), None when it
        says nothing: the same post next week, whatever else its page changed, hashes alike."""
        if not (self.editorial or self.sections):
            return None
        said = [
            self.editorial,
            [(s.heading, [link.url for link in s.links]) for s in self.sections],
        ]
        return hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()
