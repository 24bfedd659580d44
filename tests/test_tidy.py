"""The tidy rules one by one: titles, sources, blurbs and near-duplicates (digest.curation.tidy)."""

from __future__ import annotations

import dataclasses

import pytest

from digest.core.models import IssueItem
from digest.core.urls import canonical_url, domain_of, registered_domain
from digest.curation.heads import PageHead
from digest.curation.stories import Duplicates
from digest.curation.tidy import (
    clean_page_title,
    needs_page,
    repeats_title,
    sentence_case,
    tidy_blurb,
    tidy_feed_item,
    tidy_weeknote_item,
    title_problem,
)

KINGS_FUND = "https://www.kingsfund.org.uk/r"
HF = "https://health.org.uk/r"
EN_DASH = "\u2013"
LONG = "How teams cut waiting times across four sites"

# Titles


@pytest.mark.parametrize(
    "text",
    [
        "The widening gaps report",
        "Staff wellbeing survey results 2026",
        "eConsult evaluation findings published",
        "Is the NHS ready for winter?",
    ],
)
def test_a_real_title_is_kept(text):
    assert title_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("toolkit for reception teams", "starts in lower case"),
        ("See for the detail of the plan", "starts with a call to action"),
        ("the slides are here.", "a sentence"),
        ("Report", "under 3 words"),
        ("Long Covid", "under 3 words"),
        ("We launched a toolkit", "speaks to the reader"),
        ("Guidance published by the", "ends with 'the'"),
        ("A new approach to", "ends with 'to'"),
    ],
)
def test_a_clause_or_fragment_is_not_a_title(text, problem):
    assert problem in title_problem(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("toolkit for reception teams", "Toolkit for reception teams"),
        ("Already cased", "Already cased"),
        ("eConsult rolls out", "eConsult rolls out"),
        ("", ""),
    ],
)
def test_sentence_case(text, expected):
    assert sentence_case(text) == expected


@pytest.mark.parametrize(
    ("title", "publisher", "url", "expected"),
    [
        ("Report name | The King's Fund", "The King's Fund", KINGS_FUND, "Report name"),
        ("Report name \u2013 NHS England", None, "https://www.england.nhs.uk/r", "Report name"),
        ("The King's Fund | Report name here", None, KINGS_FUND, "Report name here"),
        (f"Waiting well: a review {EN_DASH} Health Foundation", None, HF, "Waiting well: a review"),
        # the site's name is known and is not the last segment: the rest stays
        ("Care homes - a guide", "The King's Fund", KINGS_FUND, "Care homes - a guide"),
        # a long last segment is not a site's name
        (f"Plan | {LONG}", None, "https://a.example/", f"Plan | {LONG}"),
        ("Title\x00with\ncontrols", None, "https://a.example/", "Title with controls"),
    ],
)  # fmt: skip
def test_page_titles_lose_the_site_suffix(title, publisher, url, expected):
    assert clean_page_title(title, publisher, url) == expected


# Blurbs


@pytest.mark.parametrize(
    ("blurb", "expected"),
    [
        ("A toolkit for practices. Read more.", "A toolkit for practices."),
        ("A toolkit for practices. The full write-up is here.", "A toolkit for practices."),
        ("A toolkit for practices. Click here to find out more.", "A toolkit for practices."),
        ("A toolkit for practices (PDF)", "A toolkit for practices"),
        ("A toolkit for practices [PDF, 2 MB]", "A toolkit for practices"),
        ("A toolkit for practices. Find out more. Read more.", "A toolkit for practices."),
        ("Read more.", ""),
        ("Applications close Friday; apply here.", "Applications close Friday; apply here."),
        ("See how three teams cut waits.", "See how three teams cut waits."),
        ("Something else entirely, out this week.", "Out this week."),
        ("Something else entirely: why it matters. Read more.", "Why it matters."),
        ("Something else entirelyness explained.", "Something else entirelyness explained."),
    ],
)
def test_closing_leftovers_and_an_opening_title_are_cut(blurb, expected):
    assert tidy_blurb(blurb, "Something else entirely") == expected


@pytest.mark.parametrize(
    ("blurb", "repeats"),
    [
        ("Toolkit for reception teams", True),
        ("toolkit for reception teams.", True),
        ("The toolkit for reception teams", True),  # the title is most of it
        ("", True),
        ("A toolkit that helps reception teams triage calls at busy times.", False),
        ("Toolkit for reception teams: what six practices learned about triage", False),
    ],
)
def test_a_blurb_that_repeats_the_title_is_dropped(blurb, repeats):
    assert repeats_title(blurb, "Toolkit for reception teams") is repeats


def test_a_feed_item_needs_its_page_only_without_a_usable_summary():
    assert needs_page("Story 1", "")
    assert needs_page("Story 1", "Story 1. Read more.")
    assert not needs_page("Story 1", "What happened in the first story.")


# Domains


@pytest.mark.parametrize(
    ("url", "tidy", "registered"),
    [
        ("https://www.kingsfund.org.uk/r", "kingsfund.org.uk", "kingsfund.org.uk"),
        ("https://www.england.nhs.uk/r", "england.nhs.uk", "england.nhs.uk"),
        ("https://blog.partner.example/r", "blog.partner.example", "partner.example"),
        ("https://WWW.Health.org/r", "health.org", "health.org"),
        ("mailto:someone@example.org", "", ""),
        ("http://[oops/report", "", ""),
    ],
)
def test_domains(url, tidy, registered):
    assert domain_of(url) == tidy
    assert registered_domain(url) == registered


# Whole items


def weeknote_item(title: str, blurb: str = "", url: str = "https://www.kingsfund.org.uk/r"):
    return IssueItem(url, canonical_url(url), title, blurb, "Weeknote", "weeknote", "T", "why")


def head(url: str = "https://www.kingsfund.org.uk/r", **fields) -> PageHead:
    return PageHead(url, final_url=url, **fields)


def test_a_fragment_takes_the_page_title_and_the_source_names_the_publisher():
    page = head(
        title="Toolkit for reception teams | The King's Fund",
        publisher="The King's Fund",
        description="How practices answer the phones.",
    )
    item = tidy_weeknote_item(weeknote_item("see for the detail of", "Read more."), page)
    assert title_problem("See for the detail of") == "starts with a call to action ('See')"
    assert item.title == "Toolkit for reception teams"
    assert item.source == "The King's Fund"
    assert item.blurb == "How practices answer the phones."
    assert item.origin == "weeknote"
    assert item.reason.splitlines() == [
        "why",
        "enriched: took the title (the link text starts in lower case), description, publisher"
        " from the page",
    ]


def test_a_real_link_text_wins_over_the_page_title():
    page = head(title="Something the page says", publisher="The King's Fund")
    item = tidy_weeknote_item(weeknote_item("The widening gaps report", "Out this week."), page)
    assert (item.title, item.blurb) == ("The widening gaps report", "Out this week.")
    assert item.reason.endswith("enriched: took the publisher from the page")


def test_without_a_page_the_fragment_is_sentence_cased_and_the_domain_is_the_source():
    failed = PageHead("https://www.kingsfund.org.uk/r", error="HTTP 403 Forbidden")
    item = tidy_weeknote_item(weeknote_item("toolkit for reception teams", "(PDF)"), failed)
    assert item.title == "Toolkit for reception teams"
    assert item.source == "kingsfund.org.uk"
    assert item.blurb == ""
    assert item.reason.endswith("not enriched: HTTP 403 Forbidden")


def test_the_description_is_cut_on_a_word():
    page = head(title="A page", description="word " * 100)
    item = tidy_weeknote_item(weeknote_item("The widening gaps report"), page)
    assert len(item.blurb) <= 200 and item.blurb.endswith("word…")


def test_a_feed_item_keeps_its_feed_name_and_takes_a_missing_summary():
    url = "https://partner.example/news/1"
    item = IssueItem(url, canonical_url(url), "Story 1", "Story 1", "Partner", "feed", "T", "why")
    enriched = tidy_feed_item(item, head(url, description="What happened."))
    assert (enriched.source, enriched.blurb) == ("Partner", "What happened.")
    assert tidy_feed_item(item, None) == IssueItem(
        url, canonical_url(url), "Story 1", "", "Partner", "feed", "T", "why"
    )


# Near-duplicates


def entry(url: str, title: str, origin: str = "feed") -> IssueItem:
    return IssueItem(url, canonical_url(url), title, "", "S", origin, "T", "why")


def first_match(items: list[IssueItem], heads: dict[str, PageHead] | None = None):
    """For each item, the index of the earlier kept one it duplicates (and why), or None."""
    heads = heads or {}
    stories = Duplicates()
    return [stories.add(item, heads.get(item.url)) for item in items]


def test_the_same_page_under_two_urls_is_one_story():
    weeknote = entry("https://www.kingsfund.org.uk/report?utm_source=x", "Report A", "weeknote")
    feed = entry("https://kingsfund.org.uk/publications/report-a", "Something else entirely")
    heads = {feed.url: head(feed.url, canonical="https://www.kingsfund.org.uk/report")}
    assert first_match([weeknote, feed], heads) == [None, (0, "same page as")]


def test_a_wrapped_link_is_compared_unwrapped():
    wrapped = "https://www.google.com/url?q=https://partner.example/news/1&sa=D"
    items = [entry(wrapped, "One", "weeknote"), entry("https://partner.example/news/1", "Two")]
    assert first_match(items) == [None, (0, "same page as")]


def test_redirects_ending_on_the_same_page_make_one_story():
    items = [entry("https://bit.example/x", "One", "weeknote"), entry("https://a.example/y", "Two")]
    heads = {items[0].url: head("https://bit.example/x")}
    heads[items[0].url] = PageHead(items[0].url, final_url="https://a.example/y")
    assert first_match(items, heads) == [None, (0, "same page as")]


def test_almost_the_same_title_on_the_same_site_is_one_story():
    items = [
        entry("https://a.example/1", "Toolkit for reception teams launched"),
        entry("https://news.a.example/2", "Toolkit for reception teams launched!"),
        entry("https://a.example/3", "A toolkit for reception teams launched"),
    ]
    same = (0, "almost the same title as")
    assert first_match(items) == [None, same, same]


def test_almost_the_same_title_elsewhere_is_one_story_only_with_a_weeknote_link():
    items = [
        entry("https://a.example/1", "Toolkit for reception teams launched"),
        entry("https://b.example/1", "Toolkit for reception teams launched"),
        entry("https://c.example/1", "The toolkit for reception teams launched", "weeknote"),
    ]
    assert first_match(items) == [None, None, (0, "almost the same title as")]


def test_titles_that_differ_in_a_number_or_much_are_two_stories():
    items = [
        entry("https://a.example/1", "Weeknote 48: winter pressures"),
        entry("https://a.example/2", "Weeknote 49: winter pressures"),
        entry("https://a.example/3", "Toolkit for reception teams launched"),
        entry("https://a.example/4", "Toolkit for pharmacy teams launched"),
    ]
    assert first_match(items) == [None, None, None, None]


def told(url: str, title: str, blurb: str, origin: str = "feed") -> IssueItem:
    return IssueItem(url, canonical_url(url), title, blurb, "S", origin, "T", "why")


GUIDE_WEEKNOTE = told(
    "https://network.example/learn/run-charts",
    "Beginner's guide to run charts",
    "New to measurement? The beginner's guide to run charts takes twenty minutes and uses "
    "real examples from falls.",
    "weeknote",
)
GUIDE_FEED = told(
    "https://news.network.example/2026/run-charts-guide",
    "Measurement for improvement: a beginner's guide to run charts",
    "Our new twenty-minute guide explains run charts with real examples from falls teams.",
)


def test_a_weeknote_link_and_a_feed_item_saying_the_same_on_one_site_are_one_story():
    assert first_match([GUIDE_WEEKNOTE, GUIDE_FEED]) == [None, (0, "the same words as")]
    elsewhere = dataclasses.replace(GUIDE_FEED, url="https://other.example/run-charts-guide")
    assert first_match([GUIDE_WEEKNOTE, elsewhere]) == [None, None]  # another site's story


def test_two_feed_items_in_the_same_words_are_two_posts():
    again = told("https://network.example/2026/again", "Run charts, again", GUIDE_FEED.blurb)
    assert first_match([GUIDE_FEED, again]) == [None, None]


def test_two_weeknote_links_to_two_addresses_are_two_stories_whatever_their_words():
    items = [
        entry("https://a.example/vsts-release", "VSTS", "weeknote"),
        entry("https://b.example/vsts-pipelines", "VSTS", "weeknote"),
        entry("https://b.example/vsts-news", "VSTS"),  # a feed item: the weeknote's story
    ]
    assert first_match(items) == [None, None, (1, "almost the same title as")]


def test_a_redirect_to_another_site_is_replaced_by_its_target():
    tracked = "https://example.us1.list-manage.com/track/click?u=1&id=2&e=3"
    page = PageHead(tracked, final_url="https://www.kingsfund.org.uk/report?utm_source=x")
    item = tidy_weeknote_item(weeknote_item("The widening gaps report", url=tracked), page)
    assert item.url == "https://www.kingsfund.org.uk/report?utm_source=x"
    assert item.canonical_url == "https://www.kingsfund.org.uk/report"
    assert "the address its redirect led to" in item.reason
    moved_within = PageHead(
        "https://www.kingsfund.org.uk/r", final_url="https://kingsfund.org.uk/r/"
    )
    same = tidy_weeknote_item(weeknote_item("The widening gaps report"), moved_within)
    assert same.url == "https://www.kingsfund.org.uk/r"  # the same site: the editor's link stays


def test_a_title_that_points_back_at_its_sentence_is_no_title():
    assert title_problem("Recording of that session") == (
        "points back at the text around it ('that session')"
    )
    assert title_problem("Slides from those workshops") is not None
    assert title_problem("What matters to patients that use video") is None
