"""Rules that make an issue's items read as an editor would write them: pure functions, no I/O.

- Title: the weeknote's link text when it reads as a title; otherwise the linked page's own
  title, cleaned of the site's name. Link text is not a title when it is a sentence (it ends in a
  full stop: the weeknote's rule for "here" links writes one), starts in lower case, starts with
  a call to action ("See …", "Read …"), speaks to or for someone ("we", "you"), points ("here",
  "below"), ends in a word that cannot end a title ("of", "the", "and"), or has under three
  words. A link text that stays is sentence-cased.
- Source: the page's publisher, else its domain without `www.`; a feed item keeps its feed's name.
- Blurb: a closing "Read more.", "The full write-up is here.", "(PDF)" and the like are cut, and
  so is the title when the blurb opens with it; a blurb that only repeats the title (or is
  three quarters the title) is dropped; a weeknote link left without one takes the page's
  description, cut at ~200 characters on a word.

Which items are one story is digest.curation.stories'.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import TYPE_CHECKING

from digest.core.models import IssueItem
from digest.core.text import excerpt, fold, normalise_heading
from digest.core.urls import canonical_url, domain_of, host_of, registered_domain

if TYPE_CHECKING:
    from digest.curation.heads import PageHead

MIN_TITLE_WORDS = 3
DESCRIPTION_LIMIT = 200
PUBLISHER_LIMIT = 80
TAIL = 160  # characters at the end of a blurb searched for leftovers
_LAST_WORDS = frozenset({"a", "an", "the", "and", "or", "but", "nor", "of", "for", "to", "in"})
_LAST_WORDS |= {"on", "at", "by", "with", "from", "about", "into", "via", "as", "than", "that"}
_LAST_WORDS |= {"is", "are", "was", "were", "our", "your", "their", "its", "this", "these"}
_CALLS = frozenset({"see", "read", "find", "click", "visit", "check", "watch", "listen", "join"})
_CALLS |= {"sign", "register", "book", "download", "view", "learn", "explore", "discover", "get"}
_CALLS |= {"take", "have", "look", "follow", "continue", "more", "go", "try", "share"}
# "Recording of that session", "the slides from this one": the words only make sense in the
# sentence around the link.
_POINTING_BACK = frozenset({"that", "this", "these", "those"})
_VOICE = frozenset({"i", "we", "you", "us", "our", "your", "here", "below", "above", "click"})
_POINTERS = frozenset({"here", "more", "full", "continue", "reading", "link", "below", "this"})
# A sentence that starts so and ends in "here" points at the link: "The full write-up is here."
_POINTING_STARTS = _CALLS | {"the", "full", "our", "your", "details", "slides", "recording"}
_TRAILING_NOTE = re.compile(
    r"\s*(?:[(\[]\s*(?:pdf|docx?|pptx?|xlsx?)\b[^)\]]{0,30}[)\]]|\[(?:…|\.\.\.)\])\s*$", re.I
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")
_SITE_SEPARATORS = (" | ", " \u2013 ", " \u2014 ", " - ", " \u00b7 ", " :: ", " \u00bb ")


def title_problem(text: str) -> str | None:
    """Why a link text is not a real title (a clause, a fragment), or None when it is one."""
    words = text.split()
    if len(words) < MIN_TITLE_WORDS:
        return f"has under {MIN_TITLE_WORDS} words"
    if text.rstrip().endswith("."):
        return "is a sentence, not a title"
    first = words[0]
    if first[:1].islower() and not any(c.isupper() for c in first[1:]):
        return "starts in lower case"
    folded = normalise_heading(text).split()
    if folded and folded[0] in _CALLS:
        return f"starts with a call to action ({first!r})"
    if _VOICE.intersection(folded):
        return "speaks to the reader or points at the link"
    if folded and folded[-1] in _LAST_WORDS:
        return f"ends with {words[-1]!r}"
    if len(folded) >= 2 and folded[-2] in _POINTING_BACK:
        return f"points back at the text around it ({' '.join(words[-2:])!r})"
    return None


def sentence_case(text: str) -> str:
    """The first letter in capitals, unless the first word has capitals inside ("eConsult")."""
    first = text.split(" ", 1)[0]
    if text[:1].islower() and not any(c.isupper() for c in first[1:]):
        return text[0].upper() + text[1:]
    return text


def clean_page_title(title: str, publisher: str | None, url: str) -> str:
    """A page's title without its site's name: "Report | The King's Fund" → "Report". A segment
    is the site's when it names the publisher or the domain; without a publisher, a short last
    segment is taken for it too."""
    title = fold(title)
    site = _site_label(url)
    for separator in _SITE_SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and len(head.split()) >= 2 and _names_site(tail, publisher, site):
            return head.strip()
        prefix, found, rest = title.partition(separator)
        if found and len(rest.split()) >= 2 and _names_site(prefix, publisher, site):
            return rest.strip()
    if publisher is None:
        for separator in _SITE_SEPARATORS:
            head, found, tail = title.rpartition(separator)
            if found and len(head.split()) >= MIN_TITLE_WORDS and _short(tail):
                return head.strip()
    return title


def _names_site(segment: str, publisher: str | None, site: str) -> bool:
    squashed = normalise_heading(segment).replace(" ", "")
    if publisher and squashed == normalise_heading(publisher).replace(" ", ""):
        return True
    return len(site) >= 4 and bool(squashed) and (site in squashed or squashed in site)


def _short(segment: str) -> bool:
    return len(segment) <= 40 and len(segment.split()) <= 4


# The enrichment stage asks of every feed summary whether it is usable, and curation then
# tidies the same summary: remembered, it is worked out once per build.
@functools.lru_cache(maxsize=32_768)
def tidy_blurb(blurb: str, title: str) -> str:
    """The blurb (one plain line, as extraction and feeds.py leave it) without closing leftovers
    ("Read more.", "(PDF)") and without the title it opens with ("Report name, out this week."
    → "Out this week."); "" when all it says is the title."""
    blurb = _without_leftovers(blurb.strip())
    if title and blurb[: len(title)].casefold() == title.casefold():
        rest = blurb[len(title) :]
        if rest[:1] in ("", " ", ",", ":", ";", ".", "\u2013", "\u2014", "-"):
            blurb = sentence_case(rest.lstrip(" ,:;.-\u2013\u2014"))
    return "" if repeats_title(blurb, title) else blurb


def _without_leftovers(text: str) -> str:
    """Cut closing notes and leftover sentences, last first. Only the end of the text is
    searched: a leftover is a dozen words at most, and feeds hand over 10,000 summaries."""
    while True:
        before = text
        if text.endswith((")", "]")):
            note = _TRAILING_NOTE.search(text, max(0, len(text) - TAIL))
            text = text[: note.start()] if note else text
        start = _last_sentence(text)
        if start is not None and _is_leftover(text[start:]):
            text = text[:start]
        text = text.rstrip(" :;,-\u2013\u2014")
        if text == before:
            return text


def _last_sentence(text: str) -> int | None:
    """Where the last sentence starts, if it is short enough to be a leftover."""
    window = max(0, len(text) - TAIL)
    breaks = list(_SENTENCE_END.finditer(text, window))
    if breaks:
        return breaks[-1].end()
    return 0 if window == 0 else None


def _is_leftover(sentence: str) -> bool:
    """A closing sentence that only sends the reader on: "Click here to find out more."."""
    words = normalise_heading(sentence).split()
    if not words or len(words) > 12:
        return False
    if words[0] in _CALLS and _POINTERS.intersection(words):
        return True
    return words[-1] == "here" and words[0] in _POINTING_STARTS


def repeats_title(blurb: str, title: str) -> bool:
    """Whether the blurb says nothing the title does not: the same words, or the title with a
    few words around it."""
    if len(blurb) > 2 * len(title) + 10:  # too long to be mostly the title: skip the folding
        return not blurb
    said, named = normalise_heading(blurb), normalise_heading(title)
    if not said or said == named:
        return True
    return bool(named) and f" {named} " in f" {said} " and len(named) >= 0.75 * len(said)


def _site_label(url: str) -> str:
    """The distinctive label of a link's domain: "kingsfund" for kingsfund.org.uk."""
    return registered_domain(url).split(".")[0].replace("-", "")


def publisher_line(head: PageHead | None, url: str) -> str | None:
    """Who published the page, as the source line names it: the page's publisher, else its
    tidy domain; None when the link has no host."""
    publisher = head.publisher if head else None
    if publisher:
        return excerpt(publisher, PUBLISHER_LIMIT)
    return domain_of((head.final_url if head else None) or url) or None


def tidy_weeknote_item(item: IssueItem, head: PageHead | None, link_text: str = "") -> IssueItem:
    """A weeknote link as an editor would list it: the rules above, with the page's head when
    it could be read, and what was taken from it added to the reason (for --explain). The
    link's own words, before extraction sentence-cased or replaced them, say best whether they
    are a title."""
    readable = head is not None and head.error is None
    problem = title_problem(link_text) if link_text else title_problem(item.title)
    title, taken = sentence_case(item.title), []
    if problem and readable and head.title:
        title = clean_page_title(head.title, head.publisher, head.final_url or item.url)
        taken.append(f"title (the link text {problem})")
    blurb = sentence_case(tidy_blurb(item.blurb, title))
    if not blurb and readable and head.description:
        blurb = tidy_blurb(excerpt(fold(head.description), DESCRIPTION_LIMIT), title)
        taken += ["description"] if blurb else []
    source = publisher_line(head if readable else None, item.url) or item.source
    if readable and head.publisher:
        taken.append("publisher")
    url = item.url
    if readable and head.final_url and _other_site(head.final_url, item.url):
        # A shortener or click-tracker (t.co, lnkd.in, Mailchimp's list-manage.com) whose
        # target is not in its URL: readers get the page itself, untracked.
        url = head.final_url
        taken.append("the address its redirect led to")
    note = _note(head, taken)
    reason = f"{item.reason}\n{note}" if note else item.reason
    return dataclasses.replace(
        item,
        url=url,
        canonical_url=canonical_url(url) if url != item.url else item.canonical_url,
        title=title,
        blurb=blurb,
        source=source,
        reason=reason,
        **(_image(head) if readable else {}),
    )


def _image(head: PageHead) -> dict:
    """The page's image, when its head gives its size too: an email must reserve the image's
    height before it loads, and one without a known size is left out."""
    if not (head.image and head.image_width and head.image_height):
        return {}
    return {
        "image": head.image,
        "image_width": head.image_width,
        "image_height": head.image_height,
        "image_alt": head.image_alt,
    }


def _other_site(url: str, link: str) -> bool:
    return bool(host_of(url)) and registered_domain(url) != registered_domain(link)


def tidy_feed_item(item: IssueItem, head: PageHead | None) -> IssueItem:
    """A feed item with its blurb tidied; one without a usable summary takes the page's
    description when its page was read (see needs_page)."""
    blurb = tidy_blurb(item.blurb, item.title)
    taken = []
    if not blurb and head is not None and head.error is None and head.description:
        blurb = tidy_blurb(excerpt(fold(head.description), DESCRIPTION_LIMIT), item.title)
        taken += ["description"] if blurb else []
    note = _note(head, taken)
    reason = f"{item.reason}\n{note}" if note else item.reason
    if blurb == item.blurb and not note:
        return item
    return dataclasses.replace(item, blurb=blurb, reason=reason)


def needs_page(title: str, summary: str) -> bool:
    """Whether a feed item needs its page read: it has no usable summary."""
    return not tidy_blurb(summary, title)


def _note(head: PageHead | None, taken: list[str]) -> str | None:
    if head is None:
        return None
    if head.error is not None:
        return f"not enriched: {head.error}"
    if not taken:
        return "enriched: the page was read; the item's own wording was kept"
    return "enriched: took the " + ", ".join(taken) + " from the page"
