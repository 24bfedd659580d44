"""Word forms: text as a sequence of stems, so "webinars" meets "webinar" and "video
consultations" meets "video consultation".

Text is folded first (case, accents, compatibility forms such as ligatures and full-width
letters), apostrophes join a word rather than split it ("Martha's" is one word), and every word
is reduced by the Snowball English stemmer. Stems are cached: a week's feeds repeat the same
few thousand words, and the stemmer is the slow part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from itertools import compress, count, filterfalse

import snowballstemmer

from digest.core.text import APOSTROPHES

# A word is letters and digits; a trailing + or # keeps "C++" and "C#" apart from "C".
_WORD = re.compile(r"[^\W_]+[+#]*")
_COMBINING = re.compile(r"[\u0300-\u036f]+")
# In ASCII text every byte but a letter, a digit, + and # becomes a space, and the apostrophe
# goes (it joins: "martha's" → "marthas"); bytes.translate does this far faster than str's.
_ASCII_SEPARATORS = (
    bytes(byte if chr(byte).isalnum() or chr(byte) in "+#" else 32 for byte in range(128))
    + b" " * 128
)
# Words that say nothing about a theme. Kept short on purpose: "care", "health" and "digital"
# are not here, because in a small training set even common words separate themes.
_STOP_WORDS = """
    a about after all also an and are as at be been but by can do for from had has have he her
    here his how i if in into is it its just may me more most my new no not of on one or our out
    over she so some than that the their them then there these they this those to too up us was
    we were what when where which who why will with you your
"""
# A plain dict lookup is several times cheaper than functools.lru_cache's wrapper. A week's
# feeds hold tens of thousands of distinct words; the bound only stops a hostile feed of
# made-up words from growing the cache without end.
_STEMS: dict[str, str] = {}
_MAX_CACHED = 200_000
_STEMMER = snowballstemmer.stemmer("english")


def fold_text(text: str) -> str:
    """Lower case without accents or compatibility forms: "Café ﬁnance" → "cafe finance"."""
    text = text.casefold()
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return text if text.isascii() else _COMBINING.sub("", text)


def stem(word: str) -> str:
    """The Snowball English stem of one folded word, cached."""
    found = _STEMS.get(word)
    if found is None:
        if len(_STEMS) >= _MAX_CACHED:
            _STEMS.clear()
        found = _STEMS[word] = _STEMMER.stemWord(word)
    return found


# Compared with stems, so stemmed the same way ("its" → "it").
STOP_WORDS = frozenset(stem(word) for word in _STOP_WORDS.split())
_is_stop_word = STOP_WORDS.__contains__


def stems(text: str) -> list[str]:
    """Every word of `text` as its stem, in order, stop words included (phrases need them).

    Builds call this for every feed item, so the usual case is one dict lookup per word in C,
    which raises at the first word never seen before."""
    words = _words(fold_text(text))
    try:
        return list(map(_STEMS.__getitem__, words))
    except KeyError:
        return list(map(stem, words))


def _words(folded: str) -> list[str]:
    """The words of folded text. Plain ASCII, the usual case, is split at punctuation by
    bytes.translate, several times faster than the regular expression the rest needs."""
    if not folded.isascii():
        return _WORD.findall(APOSTROPHES.sub("", folded))
    chunks = folded.encode().translate(_ASCII_SEPARATORS, b"'").decode().split()
    if "+" not in folded and "#" not in folded:
        return chunks
    return [word for chunk in chunks for word in _WORD.findall(chunk)]


def content_stems(text: str) -> list[str]:
    """The stems of `text` without stop words, in order."""
    return without_stop_words(stems(text))


def without_stop_words(stemmed: list[str]) -> list[str]:
    """`stems` of a text without its stop words, in order."""
    return list(filterfalse(_is_stop_word, stemmed))


def phrase(text: str) -> tuple[str, ...]:
    """A keyword or alias as the stem sequence it matches."""
    return tuple(stems(text))


def find_phrases(
    sequence: Sequence[str], phrases: dict[str, list[tuple[tuple[str, ...], object]]]
) -> list[object]:
    """What each phrase found in `sequence` stands for, left to right, without overlaps.

    `phrases` maps a first stem to the (stem sequence, value) pairs that start with it, longest
    first: where two start at one place, only the longest counts ("learning health system"
    rather than also "health system").
    """
    found = []
    free = 0  # the first position not inside a phrase already found
    # Only the positions where some phrase starts are tried: most words start none.
    for position in compress(count(), map(phrases.__contains__, sequence)):
        if position < free:
            continue
        for words, value in phrases[sequence[position]]:
            if tuple(sequence[position : position + len(words)]) == words:
                found.append(value)
                free = position + len(words)
                break
    return found
