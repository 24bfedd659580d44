from __future__ import annotations

import pytest

from digest.core.models import Item
from digest.core.settings import Theme
from digest.curation.classify import Classifier, Example
from digest.curation.themes import (
    ThemeChoice,
    normalise_heading,
    theme_for_heading,
    theme_for_item,
    theme_for_text,
)

HEALTH = Theme(
    "Health inequalities",
    aliases=("Health equity",),
    keywords=("deprivation", "health equity", "Martha's rule"),
)
VIDEO = Theme("Video consultations", aliases=("Remote care",), keywords=("video", "NHS App"))
STAFF = Theme("Staff health and wellbeing", aliases=("Digital tools",), keywords=("burnout",))
EVENTS = Theme("Events", keywords=("event", "AI", "PDSA"))
THEMES = (HEALTH, VIDEO, STAFF, EVENTS)
CATCH_ALL = "Other news"


def item(title: str = "", summary: str = "", categories: tuple[str, ...] = ()) -> Item:
    return Item(
        id="item-1",
        source="https://partner.example/feed.xml",
        guid="item-1",
        link="https://partner.example/news/1",
        canonical_url="https://partner.example/news/1",
        title=title,
        summary=summary,
        published=None,
        date_note=None,
        categories=categories,
        content_hash="hash",
    )


def choose(entry: Item, default_theme: str | None = None) -> ThemeChoice:
    return theme_for_item(entry, THEMES, default_theme, CATCH_ALL)


def test_normalise_heading_ignores_case_punctuation_and_spacing():
    assert normalise_heading("  VIDEO   consultations! ") == "video consultations"
    assert normalise_heading("Staff health & wellbeing") == "staff health and wellbeing"
    assert normalise_heading("What\u2019s new?") == normalise_heading("what's new") == "whats new"


@pytest.mark.parametrize(
    ("heading", "theme", "reason"),
    [
        ("  VIDEO consultations! ", "Video consultations", "theme name"),
        ("Staff health & wellbeing", "Staff health and wellbeing", "theme name"),
        ("digital TOOLS:", "Staff health and wellbeing", "alias 'Digital tools'"),
    ],
)
def test_heading_matches_name_or_alias_exactly(heading, theme, reason):
    choice = theme_for_heading(heading, THEMES)
    assert choice.theme == theme and not choice.new_theme
    assert reason in choice.reason


def test_heading_with_a_typo_matches_the_closest_theme():
    choice = theme_for_heading("Helth inequalities", THEMES)
    assert choice.theme == "Health inequalities" and not choice.new_theme
    assert "close to" in choice.reason


def test_unmatched_heading_becomes_a_theme_of_its_own():
    choice = theme_for_heading("Job opportunities", THEMES)
    assert choice == ThemeChoice(
        "Job opportunities",
        "no theme matches this heading: add it as an alias in feeds.yaml",
        new_theme=True,
    )


def test_category_matching_an_alias_beats_keywords():
    entry = item("A video about video", categories=("News", "health EQUITY"))
    choice = choose(entry)
    assert choice.theme == "Health inequalities"
    assert choice.reason == "category 'health EQUITY' matches alias of Health inequalities"


def test_category_matching_a_theme_name():
    assert choose(item(categories=("Video Consultations",))).theme == "Video consultations"


def test_keywords_pick_the_theme_with_most_hits():
    entry = item("Deprivation and video", "Deprivation maps and health equity work.")
    choice = choose(entry)
    assert choice.theme == "Health inequalities"
    assert choice.reason == "keywords: deprivation \u00d72, health equity \u00d71 (score 3)"


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Using PDSA cycles", "Events"),
        ("Booking through the NHS  App", "Video consultations"),
        ("Martha\u2019s rule goes live", "Health inequalities"),
        ("Martha's rule goes live", "Health inequalities"),
    ],
)
def test_keywords_with_capitals_phrases_and_apostrophes(text, theme):
    assert choose(item(text)).theme == theme


def test_keywords_match_whole_words_only():
    entry = item("Prevention, she said", "Preventing harm with the NHS Apply service")
    assert choose(entry) == ThemeChoice(CATCH_ALL, "no match: catch-all")


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("Three video consultations a day", "video consultation"),
        ("Recordings of our webinars", "webinar"),
        ("Booking through the NHS Apps", "NHS App"),
        ("Events we are running", "event"),
        ("Deprived wards and deprivation", "deprivation"),
        ("Café budgets in the Déprivation survey", "deprivation"),
    ],
)
def test_keywords_match_plurals_and_other_word_forms(text, keyword):
    themes = (Theme("Learning", keywords=(keyword,)),)
    choice = theme_for_item(item(text), themes, None, CATCH_ALL)
    assert choice.theme == "Learning", choice.reason
    assert choice.reason.startswith(f"keywords: {keyword} \u00d7")


def test_stop_words_in_a_keyword_phrase_still_have_to_match():
    themes = (Theme("Events", keywords=("book a place",)),)
    assert choose_in(themes, "Book a place now").theme == "Events"
    assert choose_in(themes, "Book the place now").theme == CATCH_ALL


def choose_in(themes, text: str) -> ThemeChoice:
    return theme_for_item(item(text), themes, None, CATCH_ALL)


def test_a_phrase_counts_once_for_its_longest_keyword():
    systems = Theme("Learning systems", keywords=("learning health system",))
    health = Theme("Health", keywords=("health system", "health"))
    entry = item("What makes a learning health system stick")
    choice = theme_for_item(entry, (health, systems), None, CATCH_ALL)
    assert choice == ThemeChoice(
        "Learning systems", "keywords: learning health system \u00d71 (score 1)"
    )


def test_keyword_tie_goes_to_the_earlier_theme():
    entry = item("Deprivation and video")
    assert choose(entry).theme == "Health inequalities"
    reordered = theme_for_item(entry, (VIDEO, HEALTH), None, CATCH_ALL)
    assert reordered.theme == "Video consultations"


def test_feed_default_theme_when_nothing_matches():
    choice = choose(item("Quarterly report"), default_theme="staff health and wellbeing")
    assert choice == ThemeChoice("Staff health and wellbeing", "feed's default theme")


def test_catch_all_when_nothing_matches_and_no_default():
    assert choose(item("Quarterly report")).theme == CATCH_ALL


def test_every_choice_has_a_reason():
    choices = [theme_for_heading(h, THEMES) for h in ("Events", "Evnts", "Elsewhere")]
    entries = [item(categories=("Events",)), item("An event"), item("Nothing here")]
    choices += [choose(entry, default) for entry in entries for default in (None, "Events")]
    assert all(choice.reason.strip() for choice in choices)


def classifier_for(themes, *texts: tuple[str, str], explain: bool = False) -> Classifier:
    examples = [Example(t, text, issue=f"issue-{n}") for n, (t, text) in enumerate(texts)]
    return Classifier.train(examples, themes, threshold=0.6, explain=explain)


def test_a_confident_classifier_comes_after_categories_and_before_keywords():
    # Its examples say what the keyword "deprivation" alone would not.
    taught = [("Staff health and wellbeing", "Sleep deprivation on the night rota")] * 3
    classifier = classifier_for(THEMES, *taught)
    entry = item("The new rota", "Sleep deprivation and the rota")
    assert theme_for_item(entry, THEMES, None, CATCH_ALL).theme == "Health inequalities"
    choice = theme_for_item(entry, THEMES, None, CATCH_ALL, classifier)
    assert choice.theme == "Staff health and wellbeing"
    assert choice.reason.startswith("classifier: Staff health and wellbeing, ")
    assert "rota" not in choice.reason  # the words cost a second pass: only under --explain
    explaining = classifier_for(THEMES, *taught, explain=True)
    reason = theme_for_item(entry, THEMES, None, CATCH_ALL, explaining).reason
    assert "rota" in reason and "like 'Sleep deprivation on the night rota'" in reason
    by_category = item("The new rota", categories=("Remote care",))
    assert theme_for_item(by_category, THEMES, None, CATCH_ALL, classifier).theme == (
        "Video consultations"
    )


def test_an_unsure_classifier_falls_back_to_keywords_then_default():
    classifier = classifier_for(THEMES)
    entry = item("Deprivation", "A quarterly report")
    assert classifier.classify("A quarterly report").theme is None
    assert theme_for_item(entry, THEMES, None, CATCH_ALL, classifier).theme == (
        "Health inequalities"
    )
    plain = item("A quarterly report")
    assert theme_for_item(plain, THEMES, "Events", CATCH_ALL, classifier).theme == "Events"
    assert theme_for_text("A quarterly report", THEMES, CATCH_ALL, classifier).theme == CATCH_ALL
