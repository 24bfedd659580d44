"""Which theme a weeknote heading or a feed item belongs to, and why: pure functions, no I/O.

Every choice carries a one-line reason, which `digest build --explain` prints, so an editor can
see why an item landed where it did and which alias or keyword to add to feeds.yaml.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from digest.config import Theme
from digest.models import Item
from digest.text import APOSTROPHES, normalise_heading

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
    item: Item, themes: Sequence[Theme], default_theme: str | None, catch_all: str
) -> ThemeChoice:
    """An item's theme: by category, then by keywords, then the feed's default, else catch-all."""
    themes = tuple(themes)
    return (
        _by_category(item, themes)
        or _by_keywords(item, themes)
        or _by_default(default_theme, themes)
        or ThemeChoice(catch_all, "no match: catch-all")
    )


def _by_category(item: Item, themes: tuple[Theme, ...]) -> ThemeChoice | None:
    labels = _labels(themes)
    for category in item.categories:
        label = labels.get(normalise_heading(category))
        if label is not None:
            of = f"alias of {label.theme.name}" if label.is_alias else "theme name"
            return ThemeChoice(label.theme.name, f"category '{category}' matches {of}")
    return None


def _by_keywords(item: Item, themes: tuple[Theme, ...]) -> ThemeChoice | None:
    """The theme whose keywords occur most often in the title and summary; ties go to the first."""
    text = f"{item.title} {item.summary}"
    best: tuple[int, Theme, list[str]] | None = None
    for theme, patterns in _keyword_patterns(themes):
        hits = [(keyword, len(pattern.findall(text))) for keyword, pattern in patterns]
        hits = [(keyword, count) for keyword, count in hits if count]
        score = sum(count for _, count in hits)
        if score and (best is None or score > best[0]):
            best = (score, theme, [f"{keyword} \u00d7{count}" for keyword, count in hits])
    if best is None:
        return None
    score, theme, counts = best
    return ThemeChoice(theme.name, f"keywords: {', '.join(counts)} (score {score})")


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
def _keyword_patterns(
    themes: tuple[Theme, ...],
) -> tuple[tuple[Theme, tuple[tuple[str, re.Pattern[str]], ...]], ...]:
    """Each theme with its keywords compiled once, for every item of every feed."""
    return tuple(
        (theme, tuple((keyword, _keyword_pattern(keyword)) for keyword in theme.keywords))
        for theme in themes
    )


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A whole-word, case-insensitive pattern: "event" must not match "prevention".

    Lookarounds rather than \\b, so keywords that start or end with punctuation ("C++") still
    match. Any run of whitespace may separate a phrase's words, and any apostrophe stands for
    any other ("Martha's rule" matches "Martha\u2019s rule").
    """
    any_apostrophe = APOSTROPHES.pattern
    words = [APOSTROPHES.sub(lambda _: any_apostrophe, re.escape(w)) for w in keyword.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)
