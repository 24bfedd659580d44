from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from digest.core.models import IssueItem, Item
from digest.core.settings import Config, Curation, Newsletter, Theme
from digest.core.settings import Weeknote as WeeknoteRule
from digest.core.urls import canonical_url
from digest.curation.curate import (
    curate,
    feed_candidates,
    issue_id,
    pick_weeknote_post,
    slug,
    unmatched_headings,
    weeknote_candidates,
    window,
)
from digest.curation.heads import PageHead
from digest.curation.overrides import IssueOverrides, ItemOverride
from digest.weeknote.extract import Weeknote, WeeknoteLink, WeeknoteSection

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FEED = "https://partner.example/feed.xml"
HEALTH = Theme(
    "Health inequalities",
    aliases=("Health equity",),
    keywords=("deprivation",),
    colour="#1d70b8",
    emoji="🩺",
)
VIDEO = Theme("Video consultations", aliases=("Remote care",), keywords=("video",))
CATCH_ALL = "Other news"


def config(*themes: Theme, per_theme: int = 2, overlap_hours: int = 12, **newsletter) -> Config:
    return Config(
        newsletter=Newsletter(
            title="Test digest",
            website="https://community.example",
            sender="Test <digest@community.example>",
            **newsletter,
        ),
        themes=themes or (HEALTH, VIDEO),
        curation=Curation(per_theme=per_theme, overlap_hours=overlap_hours),
    )


def candidate(
    url: str,
    theme: str = "Health inequalities",
    *,
    origin: str = "feed",
    title: str | None = None,
) -> IssueItem:
    return IssueItem(
        url=url,
        canonical_url=canonical_url(url),
        title=title or url.rsplit("/", 1)[-1],
        blurb="",
        source="Weeknote" if origin == "weeknote" else "Partner",
        origin=origin,
        theme=theme,
        reason="test",
    )


def feed_item(
    n: int,
    title: str = "",
    summary: str = "",
    categories: tuple[str, ...] = (),
    published: datetime | None = NOW,
) -> Item:
    link = f"https://partner.example/news/{n}"
    return Item(
        id=f"item-{n}",
        source=FEED,
        guid=None,
        link=link,
        canonical_url=canonical_url(link),
        title=title or f"Story {n}",
        summary=summary,
        published=published,
        date_note=None,
        categories=categories,
        content_hash=f"hash-{n}",
    )


def link(url: str, title: str, blurb: str = "", section: str = "") -> WeeknoteLink:
    return WeeknoteLink(url, canonical_url(url), title, blurb, section, position=0)


def weeknote(*sections: tuple[str, list[WeeknoteLink]]) -> Weeknote:
    return Weeknote(
        title="Weeknote 48",
        editorial="A busy week.",
        sections=tuple(WeeknoteSection(heading, tuple(links)) for heading, links in sections),
        problems=(),
    )


def pin(*urls: str) -> IssueOverrides:
    return IssueOverrides(items=tuple(ItemOverride(url=url, pin=True) for url in urls))


def names(curated) -> list[str]:
    return [theme.name for theme in curated.themes]


def outcomes(curated) -> dict[str, tuple[str, str]]:
    return {d.url: (d.outcome, d.reason) for d in curated.skipped}


# issue_id


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (NOW, "Europe/London", "2026-W48"),
        (datetime(2026, 1, 5, 9, tzinfo=UTC), "Europe/London", "2026-W02"),
        # Sunday 23:30 UTC is already Monday, the next week, east of London ...
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "Europe/London", "2026-W48"),
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "Europe/Berlin", "2026-W49"),
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), "Pacific/Auckland", "2026-W49"),
        # ... and Monday early UTC is still last week's Sunday west of it
        (datetime(2026, 11, 30, 3, 0, tzinfo=UTC), "America/New_York", "2026-W48"),
    ],
)
def test_issue_id_is_the_iso_week_in_the_configured_zone(now, zone, expected):
    assert issue_id(now, zone) == expected


def test_issue_id_uses_the_iso_year_at_the_year_boundary():
    assert issue_id(datetime(2027, 1, 1, 12, tzinfo=UTC), "Europe/London") == "2026-W53"
    sunday_night = datetime(2028, 1, 2, 23, 30, tzinfo=UTC)
    assert issue_id(sunday_night, "Europe/London") == "2027-W52"
    assert issue_id(sunday_night, "Europe/Berlin") == "2028-W01"


# window


def test_first_window_goes_back_window_days():
    assert window(NOW, config(window_days=3), None) == (NOW - timedelta(days=3), NOW)


def test_later_windows_start_at_the_last_send_less_the_overlap():
    last_sent = NOW - timedelta(days=7)
    start, end = window(NOW, config(overlap_hours=6, window_days=3), last_sent)
    assert (start, end) == (last_sent - timedelta(hours=6), NOW)


# pick_weeknote_post


POSTS = [
    feed_item(3, "Partner news roundup", categories=("Weeknotes",)),
    feed_item(2, "Weeknote 48: a busy week", categories=("News",)),
    feed_item(1, "Weeknote 47", categories=("week-notes!",)),
]


def rule(title_pattern: str | None = None, category: str | None = None) -> WeeknoteRule:
    return WeeknoteRule(feed=FEED, title_pattern=title_pattern, category=category)


def test_pick_by_title_pattern_takes_the_newest_match():
    assert pick_weeknote_post(POSTS, rule(title_pattern=r"^Weeknote \d+")) is POSTS[1]
    assert pick_weeknote_post(POSTS, rule(title_pattern="WEEKNOTE 47")) is POSTS[2]


def test_pick_by_category_ignores_case_and_punctuation():
    assert pick_weeknote_post(POSTS, rule(category="WEEK NOTES")) is POSTS[2]
    assert pick_weeknote_post(POSTS, rule(category="weeknotes")) is POSTS[0]


def test_pick_needs_both_title_and_category_when_both_are_set():
    chosen = pick_weeknote_post(POSTS, rule(title_pattern="Weeknote", category="Week notes"))
    assert chosen is POSTS[2]


def test_pick_returns_none_when_nothing_matches():
    assert pick_weeknote_post(POSTS, rule(title_pattern="^Monthly")) is None
    assert pick_weeknote_post(POSTS, rule("Weeknote 48", category="Weeknotes")) is None
    assert pick_weeknote_post([], rule(title_pattern="Weeknote")) is None


# weeknote_candidates


def test_weeknote_sections_map_to_themes_in_page_order():
    note = weeknote(
        (
            "",
            [link("https://a.example/video", "New video clinic"), link("https://a.example/x", "X")],
        ),
        ("Health equity", [link("https://a.example/h", "Report", "On health.")]),
        ("Video consultation", [link("https://a.example/v", "Pilot")]),
        ("Book club", [link("https://a.example/b", "A novel")]),
    )
    found = weeknote_candidates(note, config())
    assert [(c.url, c.theme) for c in found] == [
        ("https://a.example/video", "Video consultations"),  # editorial: by keyword
        ("https://a.example/x", CATCH_ALL),  # editorial: no keyword
        ("https://a.example/h", "Health inequalities"),  # alias
        ("https://a.example/v", "Video consultations"),  # close to the name
        ("https://a.example/b", "Book club"),  # a theme of its own
    ]
    # With no page read, the source line names the link's domain, not "Weeknote".
    assert {(c.origin, c.source) for c in found} == {("weeknote", "a.example")}
    assert (found[2].title, found[2].blurb) == ("Report", "On health.")
    assert found[2].canonical_url == "https://a.example/h"
    assert "'(editorial)'" in found[0].reason and "video" in found[0].reason
    assert "'Health equity'" in found[2].reason and "alias" in found[2].reason
    assert unmatched_headings(note, config()) == ["Book club"]


def test_a_heading_naming_the_catch_all_is_the_catch_all():
    note = weeknote(("Other NEWS:", [link("https://a.example/o", "Odds and ends")]))
    (found,) = weeknote_candidates(note, config())
    assert found.theme == CATCH_ALL
    assert unmatched_headings(note, config()) == []


# feed_candidates


def test_feed_items_themed_by_category_then_keyword_then_default_then_catch_all():
    items = [
        feed_item(1, "A video", categories=("health EQUITY",)),
        feed_item(2, "Deprivation maps", categories=("Misc",)),
        feed_item(3, "Nothing in particular"),
    ]
    feeds = {FEED: ("Partner", "video CONSULTATIONS")}
    themed = [c.theme for c in feed_candidates(items, feeds, config())]
    assert themed == ["Health inequalities", "Health inequalities", "Video consultations"]
    no_default = feed_candidates(items[2:], {FEED: ("Partner", None)}, config())
    assert no_default[0].theme == CATCH_ALL
    assert no_default[0].reason == "no match: catch-all"


def test_feed_candidates_carry_the_items_fields():
    published = NOW - timedelta(hours=3)
    entry = feed_item(7, "Story", summary="In brief.", published=published)
    (found,) = feed_candidates([entry], {FEED: ("Partner news", None)}, config())
    assert (found.url, found.canonical_url) == (entry.link, entry.canonical_url)
    assert (found.title, found.blurb, found.published) == ("Story", "In brief.", published)
    assert (found.source, found.origin) == ("Partner news", "feed")


# curate: what is skipped


def test_a_link_in_a_sent_issue_is_skipped_even_when_republished():
    sent = {canonical_url("https://partner.example/news/1"): "2026-W47"}
    again = candidate("https://Partner.EXAMPLE/news/1/?utm_source=rss&utm_medium=email")
    fresh = candidate("https://partner.example/news/2")
    curated = curate([again, fresh], sent, IssueOverrides(), config())
    assert [i.url for t in curated.themes for i in t.items] == [fresh.url]
    assert outcomes(curated)[again.url] == ("already-sent", "already sent in 2026-W47")


def test_a_weeknote_link_beats_a_feed_item_with_the_same_url():
    mine = candidate("https://partner.example/report", origin="weeknote", title="The report")
    theirs = candidate("https://partner.example/report/?utm_campaign=x", "Video consultations")
    curated = curate([mine, theirs], {}, IssueOverrides(), config())
    assert [(i.url, i.origin) for t in curated.themes for i in t.items] == [(mine.url, "weeknote")]
    assert names(curated) == ["Health inequalities"]
    outcome, reason = outcomes(curated)[theirs.url]
    assert outcome == "duplicate" and "Weeknote's 'The report'" in reason


def test_near_duplicates_merge_and_the_weeknote_wording_wins():
    mine = candidate("https://www.kingsfund.org.uk/toolkit", origin="weeknote", title="Toolkit")
    same_page = candidate("https://kingsfund.org.uk/p/123", title="Toolkit for reception teams")
    same_title = dataclasses.replace(
        candidate("https://other.example/news/9", title="Toolkit for reception teams!"),
        blurb="How six practices answer the phones.",
    )
    heads = {
        same_page.url: PageHead(same_page.url, canonical="https://www.kingsfund.org.uk/toolkit")
    }
    mine = dataclasses.replace(mine, title="Toolkit for reception teams")
    curated = curate([mine, same_page, same_title], {}, IssueOverrides(), config(), heads=heads)
    (kept,) = [item for theme in curated.themes for item in theme.items]
    assert (kept.url, kept.title, kept.origin) == (mine.url, mine.title, "weeknote")
    assert kept.blurb == "How six practices answer the phones."  # the first had none
    assert outcomes(curated) == {
        same_page.url: ("duplicate", "same page as Weeknote's 'Toolkit for reception teams'"),
        same_title.url: (
            "duplicate",
            "almost the same title as Weeknote's 'Toolkit for reception teams'",
        ),
    }


def test_feed_items_from_two_sites_with_one_title_are_two_stories():
    first = candidate("https://a.example/1", title="Winter plan for urgent care published")
    second = candidate("https://b.example/1", title="Winter plan for urgent care published")
    curated = curate([first, second], {}, IssueOverrides(), config(per_theme=5))
    assert [item.url for theme in curated.themes for item in theme.items] == [first.url, second.url]


def test_dropped_items_are_recorded_as_skipped():
    items = [candidate("https://a.example/1"), candidate("https://a.example/2")]
    drop = IssueOverrides(items=(ItemOverride(url="https://a.example/1", drop=True),))
    curated = curate(items, {}, drop, config())
    assert [i.url for i in curated.themes[0].items] == ["https://a.example/2"]
    assert outcomes(curated)["https://a.example/1"] == ("dropped", "dropped in the overrides file")


# curate: the per-theme cap


def test_items_over_the_cap_are_counted_as_more():
    items = [candidate(f"https://a.example/{n}") for n in range(3)]
    curated = curate(items, {}, IssueOverrides(), config(per_theme=2))
    (theme,) = curated.themes
    assert [i.url for i in theme.items] == [items[0].url, items[1].url]
    assert [i.url for i in theme.more] == [items[2].url]
    assert not outcomes(curated)  # nothing was left out


def test_pinned_items_are_shown_whatever_the_cap():
    items = [candidate(f"https://a.example/{n}") for n in range(4)]
    overrides = pin(items[3].url, items[2].url, items[1].url)
    (theme,) = curate(items, {}, overrides, config(per_theme=2)).themes
    assert [i.url for i in theme.items] == [items[3].url, items[2].url, items[1].url]
    assert [i.url for i in theme.more] == [items[0].url]


# curate: themes and their order


def test_empty_themes_are_hidden():
    curated = curate(
        [candidate("https://a.example/v", "Video consultations")], {}, IssueOverrides(), config()
    )
    assert names(curated) == ["Video consultations"]


def test_themes_in_config_order_then_unmatched_headings_then_catch_all():
    items = [
        candidate("https://a.example/o", CATCH_ALL),
        candidate("https://a.example/b", "Book club", origin="weeknote"),
        candidate("https://a.example/v", "Video consultations"),
        candidate("https://a.example/h", "Health inequalities"),
    ]
    curated = curate(items, {}, IssueOverrides(), config(), unmatched_headings=["Book club"])
    assert names(curated) == ["Health inequalities", "Video consultations", "Book club", CATCH_ALL]
    assert [t.unmatched_heading for t in curated.themes] == [False, False, True, False]
    health = curated.themes[0]
    assert (health.slug, health.colour, health.emoji) == ("health-inequalities", "#1d70b8", "🩺")


def test_unmatched_headings_keep_page_order_when_an_item_is_pinned():
    items = [
        candidate("https://a.example/b", "Book club", origin="weeknote"),
        candidate("https://a.example/g", "Gardening", origin="weeknote"),
    ]
    curated = curate(items, {}, pin(items[1].url), config(), ["Book club", "Gardening"])
    assert names(curated) == ["Book club", "Gardening"]


def test_a_configured_catch_all_keeps_its_configured_place():
    items = [
        candidate("https://a.example/h", "Health inequalities"),
        candidate("https://a.example/b", "Book club", origin="weeknote"),
        candidate("https://a.example/o", CATCH_ALL),
    ]
    curated = curate(items, {}, IssueOverrides(), config(Theme(CATCH_ALL), HEALTH), ["Book club"])
    assert names(curated) == [CATCH_ALL, "Health inequalities", "Book club"]


def test_the_overrides_theme_order_comes_first():
    items = [
        candidate("https://a.example/o", CATCH_ALL),
        candidate("https://a.example/h", "Health inequalities"),
        candidate("https://a.example/v", "Video consultations"),
    ]
    first = IssueOverrides(theme_order=("video CONSULTATIONS",))
    assert names(curate(items, {}, first, config())) == [
        "Video consultations",
        "Health inequalities",
        CATCH_ALL,
    ]
    catch_all_first = IssueOverrides(theme_order=("other news",))
    assert names(curate(items, {}, catch_all_first, config())) == [
        CATCH_ALL,
        "Health inequalities",
        "Video consultations",
    ]


def test_within_a_theme_weeknote_links_in_page_order_then_feed_items_newest_first():
    note = weeknote(
        (
            "Health inequalities",
            [link("https://a.example/w1", "First"), link("https://a.example/w2", "Second")],
        ),
    )
    newer = feed_item(1, "Deprivation A", published=NOW - timedelta(hours=1))
    older = feed_item(2, "Deprivation B", published=NOW - timedelta(days=2))
    candidates = weeknote_candidates(note, config()) + feed_candidates(
        [newer, older], {FEED: ("Partner", None)}, config()
    )
    (theme,) = curate(candidates, {}, IssueOverrides(), config(per_theme=10)).themes
    assert [i.url for i in theme.items] == [
        "https://a.example/w1",
        "https://a.example/w2",
        newer.link,
        older.link,
    ]


@pytest.mark.parametrize(
    ("name", "anchor"),
    [
        ("Health & care", "health-and-care"),
        ("Video consultations", "video-consultations"),
        ("  What\u2019s new?! ", "whats-new"),
        ("!!!", "theme"),
    ],
)
def test_slug_is_a_stable_anchor(name, anchor):
    assert slug(name) == anchor


def test_the_picks_are_the_editorials_links_and_marking_one_adds_it_before_them():
    from digest.curation.curate import choose_lead
    from digest.curation.overrides import IssueOverrides, ItemOverride

    def item(n: int, editorial: bool) -> IssueItem:
        url = f"https://a.example/{n}"
        return IssueItem(
            url, url, f"T{n}", "", "Weeknote", "weeknote", "X", "r", editorial=editorial
        )

    items = [item(n, editorial=n < 5) for n in range(8)]
    ranked, top = choose_lead(items, IssueOverrides())
    assert [i.lead for i in ranked] == [1, 2, 3, 0, 0, 0, 0, 0] and top.title == "T0"
    marked = IssueOverrides(
        items=(
            ItemOverride(url="https://a.example/7", lead=True),
            ItemOverride(url="https://a.example/6", lead=True),
        )
    )
    ranked, top = choose_lead(items, marked)
    # The two marked ones first, then the build's own; the top story stays the build's.
    assert [i.lead for i in ranked] == [3, 0, 0, 0, 0, 0, 2, 1] and top.title == "T0"


def test_lead_false_takes_one_of_the_builds_own_picks_away():
    from digest.curation.curate import choose_lead
    from digest.curation.overrides import IssueOverrides, ItemOverride

    items = [
        IssueItem(u, u, f"T{n}", "", "Weeknote", "weeknote", "X", "r", editorial=True)
        for n, u in enumerate(f"https://a.example/{n}" for n in range(4))
    ]
    refused = IssueOverrides(items=(ItemOverride(url="https://a.example/0", lead=False),))
    ranked, top = choose_lead(items, refused)
    assert [i.lead for i in ranked] == [0, 1, 2, 3] and top.title == "T1"


def test_without_editorial_links_the_picks_are_each_themes_top_item():
    from digest.curation.curate import choose_lead

    items = [
        dataclasses.replace(candidate("https://a.example/1", "Video consultations")),
        candidate("https://a.example/2", "Health inequalities"),
        dataclasses.replace(candidate("https://a.example/3", "Health inequalities"), pinned=True),
        candidate("https://a.example/4", "Video consultations"),
    ]
    order = ["Health inequalities", "Video consultations"]
    ranked, top = choose_lead(items, IssueOverrides(), order)
    assert [i.lead for i in ranked] == [2, 0, 1, 0] and top.url == "https://a.example/3"


def test_a_picks_blurb_never_repeats_the_intro():
    intro = (
        "A cold week. Teams from four trusts compared notes on keeping same-day emergency care "
        "open when beds are tight, and the recording is worth your time."
    )
    blurb = (
        "Teams from four trusts compared notes on keeping same-day emergency care open when beds "
        "are tight, and the recording is worth your time."
    )
    told = [
        dataclasses.replace(candidate(f"https://a.example/{n}", origin="weeknote"), blurb=blurb)
        for n in (1, 2)
    ]
    told = [dataclasses.replace(item, editorial=True) for item in told]
    heads = {told[1].url: PageHead(told[1].url, description="Forty minutes on SDEC, recorded.")}
    curated = curate(told, {}, IssueOverrides(), config(), heads=heads, intro=intro)
    blurbs = {item.url: item.blurb for item in curated.themes[0].items}
    assert blurbs == {told[0].url: "", told[1].url: "Forty minutes on SDEC, recorded."}
    kept = curate(told, {}, IssueOverrides(), config(), heads=heads, intro="Another intro.")
    assert all(item.blurb == blurb for item in kept.themes[0].items)


def test_a_weeknote_link_takes_the_date_of_the_feed_item_telling_the_same_story():
    url = "https://a.example/report"
    weeknote_link = candidate(url, origin="weeknote", title="The widening gaps report")
    feed = dataclasses.replace(candidate(url, title="Gaps report out today"), published=NOW)
    [kept] = curate([weeknote_link, feed], {}, IssueOverrides(), config()).themes[0].items
    assert kept.title == "The widening gaps report" and kept.published == NOW
