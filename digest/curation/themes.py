"""Which theme a weeknote heading or a feed item belongs to, and why: pure functions, no I/O.

A feed item's theme is, in order: a feed category naming a theme, the classifier when it is
confident (digest.curation.classify), the most keyword hits, the feed's default theme, the
catch-all. Keywords match by word stems (digest.curation.words): "webinar" also finds
"webinars".

Every choice carries a one-line reason, which `digest build --explain` prints, so an editor can
see why an item landed where it did and which alias or keyword to add to feeds.yaml.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from digest.core.models import Item
from digest.core.settings import Theme
from digest.core.text import normalise_heading
from digest.curation.classify import Classifier
from digest.curation.words import find_phrases, phrase, stems

# Headings this similar to a theme's name or alias are typos of it ("Helth inequalities").
FUZZY_CUTOFF = 0.85
UNMATCHED_HEADING = "no theme matches this heading: add it as an alias in feeds.yaml"


@dataclass(frozen=True)
class ThemeChoice:
    theme: str  # a configured theme's name, an unmatched heading, or the catch-all
    reason: str  # one line for `digest build --explain`
    new_theme: bool = False  # an unmatched weeknote heading that became a theme of its own


@dataclass(frozen=True)
class _Label:
    """One way of naming a theme: its name or one of its aliases."""

    theme: Theme
    text: str
    is_alias: bool

    def describe(self) -> str:
        return f"alias '{self.text}'" if self.is_alias else f"theme name '{self.text}'"


def theme_for_heading(heading: str, themes: Sequence[Theme]) -> ThemeChoice:
    """The theme a weeknote heading means: exact name or alias, then a close one, else its own."""
    key = normalise_heading(heading)
    labels = _labels(tuple(themes))
    if key in labels:
        label = labels[key]
        return ThemeChoice(label.theme.name, f"heading matches {label.describe()}")
    close = _closest_label(key, labels)
    if close is not None:
        label, ratio = close
        reason = f"heading is close to {label.describe()} ({ratio:.0%} alike)"
        return ThemeChoice(label.theme.name, reason)
    return ThemeChoice(heading, UNMATCHED_HEADING, new_theme=True)


def theme_for_item(
    item: Item,
    themes: Sequence[Theme],
    default_theme: str | None,
    catch_all: str,
    classifier: Classifier | None = None,
) -> ThemeChoice:
    """An item's theme: by category, then the classifier when it is confident, then keywords,
    then the feed's default, else the catch-all."""
    themes = tuple(themes)
    text = f"{item.title} {item.summary}"
    stemmed = stems(text)
    return (
        _by_category(item, themes)
        or _by_classifier(classifier, text, stemmed, item.link)
        or _by_keywords(stemmed, themes)
        or _by_default(default_theme, themes)
        or ThemeChoice(catch_all, "no match: catch-all")
    )


def theme_for_text(
    text: str,
    themes: Sequence[Theme],
    catch_all: str,
    classifier: Classifier | None = None,
    url: str = "",
) -> ThemeChoice:
    """The theme of a link with no heading (an editorial link): the classifier when confident,
    then keywords, else the catch-all."""
    stemmed = stems(text)
    return (
        _by_classifier(classifier, text, stemmed, url)
        or _by_keywords(stemmed, tuple(themes))
        or ThemeChoice(catch_all, "no match: catch-all")
    )


def _by_classifier(
    classifier: Classifier | None, text: str, stemmed: list[str], url: str
) -> ThemeChoice | None:
    if classifier is None:
        return None
    prediction = classifier.classify(text, url, stemmed)
    if prediction.theme is None:
        return None
    return ThemeChoice(prediction.theme, prediction.describe())


def _by_category(item: Item, themes: tuple[Theme, ...]) -> ThemeChoice | None:
    labels = _labels(themes)
    for category in item.categories:
        label = labels.get(normalise_heading(category))
        if label is not None:
            of = f"alias of {label.theme.name}" if label.is_alias else "theme name"
            return ThemeChoice(label.theme.name, f"category '{category}' matches {of}")
    return None


def _by_keywords(stemmed: list[str], themes: tuple[Theme, ...]) -> ThemeChoice | None:
    """The theme whose keywords occur most often in the text (its `stems`); ties go to the
    first."""
    found = find_phrases(stemmed, _keyword_phrases(themes))  # (theme index, keyword) each
    if not found:
        return None
    scores = Counter(index for index, _ in found)
    index = max(sorted(scores), key=scores.__getitem__)  # max keeps the first of a tie
    counts = ", ".join(f"{k} \u00d7{n}" for (i, k), n in Counter(found).items() if i == index)
    return ThemeChoice(themes[index].name, f"keywords: {counts} (score {scores[index]})")


def _by_default(default_theme: str | None, themes: tuple[Theme, ...]) -> ThemeChoice | None:
    if default_theme is None:
        return None
    # feeds.yaml may spell the default in another case; the email uses the declared name.
    names = {normalise_heading(theme.name): theme.name for theme in themes}
    name = names.get(normalise_heading(default_theme), default_theme)
    return ThemeChoice(name, "feed's default theme")


def _closest_label(key: str, labels: dict[str, _Label]) -> tuple[_Label, float] | None:
    """The label most like `key`, if it is alike enough to be a typo; ties go to the first."""
    best: tuple[_Label, float] | None = None
    for text, label in labels.items():
        ratio = SequenceMatcher(None, key, text).ratio()
        if ratio >= FUZZY_CUTOFF and (best is None or ratio > best[1]):
            best = (label, ratio)
    return best


@functools.lru_cache(maxsize=16)
def _labels(themes: tuple[Theme, ...]) -> dict[str, _Label]:
    """Every name and alias by its normalised key; the first theme to claim a key keeps it."""
    labels: dict[str, _Label] = {}
    for theme in themes:
        labels.setdefault(normalise_heading(theme.name), _Label(theme, theme.name, False))
        for alias in theme.aliases:
            labels.setdefault(normalise_heading(alias), _Label(theme, alias, True))
    return labels


@functools.lru_cache(maxsize=16)
def _keyword_phrases(themes: tuple[Theme, ...]) -> dict[str, list[tuple[tuple[str, ...], tuple]]]:
    """Every theme's keywords as stem sequences, by first stem, longest first; each stands for
    (theme index, keyword as the editor wrote it).

    Stems rather than spellings, so "video consultation" also matches "video consultations"
    and "webinar" "webinars"; whole words, so "event" never matches "prevention". Of two
    keywords that start at one word, only the longer counts. Ties keep the editor's order.
    """
    entries = [
        (phrase(keyword), (i, keyword))
        for i, theme in enumerate(themes)
        for keyword in theme.keywords
    ]
    entries.sort(key=lambda entry: -len(entry[0]))  # stable
    phrases: dict[str, list[tuple[tuple[str, ...], tuple]]] = {}
    for words, value in entries:
        if words:  # a keyword of punctuation alone has no words to match
            phrases.setdefault(words[0], []).append((words, value))
    return phrases
