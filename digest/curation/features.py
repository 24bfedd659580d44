"""What the theme classifier sees of a link: the words of its text, their neighbouring pairs, the
words of its host and its path, and the marks of a date.

Counted as words: a host often names its subject ("digital.", "wellbeing.", "events."), and as
words they meet the seeds (a theme's name, aliases and keywords), which an opaque "@host" feature
never does. A path's words are marked with a leading "/" and counted apart: a link's folders say
what kind of page it is ("/r/orgmode/comments/…", "/events/…", "/watch", "/releases/tag/…"),
and a slug that repeats the title should not count its words twice as text. On the weeknote
fixtures the path's words put 83% right against 82% without them; on a real link newsletter
(bench/newsletter_bench.py) two points more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain, pairwise

from digest.curation.words import content_stems

# Pairs of words are taken from a text's first twenty (not stop words): its title and opening,
# where it says what it is about. On the fixtures that put one link more right than pairs from
# every word, and it caps the lookups of a long summary's pairs (bench/classify_bench.py).
PAIR_WORDS = 20
# Month names as stemmed, and their short forms: with "#number", the marks of a dated event.
MONTHS = frozenset(
    "januari februari march april may june juli august septemb octob novemb decemb "  # noqa: SIM905
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_HOSTS: dict[str, list[str]] = {}  # host -> its words; feeds link to the same few hosts
_MAX_HOSTS = 10_000
# Separators inside a path: folders, hyphens and underscores of slugs, a file's extension.
_PATH_SEPARATORS = re.compile(r"[/_.~%+=,;:-]+")

Feature = str | tuple[str, str]  # a stem or mark, or a pair of neighbouring stems


def host_words(domain: str) -> list[str]:
    """The stems of a host's labels but the last ("digital.fenwick-icb.nhs.uk" gives "digit",
    "fenwick", "icb", "nhs"), cached."""
    found = _HOSTS.get(domain)
    if found is None:
        if len(_HOSTS) >= _MAX_HOSTS:
            _HOSTS.clear()
        labels = domain.casefold().removeprefix("www.").split(".")[:-1]
        found = _HOSTS[domain] = content_stems(" ".join(labels).replace("-", " "))
    return found


def link_words(link: str) -> list[str]:
    """The words of a link's host (host_words), then of its path, each marked with "/"
    ("https://www.reddit.com/r/orgmode/comments/1x/agenda_tips" gives "reddit", "/r",
    "/orgmod", "/comment", "/1x", "/agenda", "/tip"). A bare host ("events.example") gives
    its host's words."""
    scheme, found, rest = link.partition("://")
    if not found:
        return host_words(scheme.casefold())
    host, _, path = rest.partition("/")
    host = host.rpartition("@")[2].partition(":")[0].casefold()
    path = path.partition("#")[0].partition("?")[0]
    if not path:
        return host_words(host)
    marked = ["/" + word for word in content_stems(_PATH_SEPARATORS.sub(" ", path))]
    return host_words(host) + marked


def features(text: str, link: str = "") -> list[Feature]:
    """Stems, neighbouring pairs of the first PAIR_WORDS stems (("video", "consult")), the
    words of the link (link_words), and "#month" and "#number" for dates and times (an event's
    mark), repeats included."""
    return list(feature_stream(content_stems(text), link_words(link)))


def feature_stream(words: list[str], linked: list[str]) -> Iterator[Feature]:
    words_and_link = words + linked
    months = sum(map(MONTHS.__contains__, words_and_link))
    numbers = sum(map(str.isdigit, words_and_link))
    pairs = pairwise(words[:PAIR_WORDS])
    return chain(words, pairs, linked, ["#month"] * months, ["#number"] * numbers)


def feature_name(feature: Feature) -> str:
    return feature if isinstance(feature, str) else " ".join(feature)
