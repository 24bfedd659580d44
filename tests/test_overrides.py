from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.errors import ConfigError
from digest.core.models import IssueItem
from digest.core.settings import Config, Newsletter, Theme
from digest.core.urls import canonical_url
from digest.curation.overrides import IssueOverrides, ItemOverride, apply_overrides, load_overrides

CONFIG = Config(
    newsletter=Newsletter(
        title="Test digest",
        website="https://community.example",
        sender="Test <digest@community.example>",
    ),
    themes=(Theme("Health inequalities"), Theme("Video consultations")),
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, issue: str = "2026-W48") -> IssueOverrides:
    return load_overrides(write(tmp_path, text), issue, CONFIG)


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems load_overrides reports, with the tmp directory left off the file name."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    found = [line.replace(f"{tmp_path}/", "") for line in caught.value.problems]
    assert all("\n" not in line for line in found)
    return found


def issue_item(url: str, theme: str = "Health inequalities", title: str = "Title") -> IssueItem:
    return IssueItem(
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        blurb="Blurb.",
        source="Partner",
        origin="feed",
        theme=theme,
        reason="keywords: test",
    )


A, B, C = (issue_item(f"https://partner.example/news/{n}") for n in "abc")


def apply(items: list[IssueItem], *overrides: ItemOverride):
    return apply_overrides(items, IssueOverrides(items=overrides), CONFIG)


# load_overrides: files that say nothing


def test_a_missing_file_means_no_overrides(tmp_path):
    assert load_overrides(tmp_path / "overrides.yaml", "2026-W48", CONFIG) == IssueOverrides()


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_an_empty_file_means_no_overrides(tmp_path, text):
    assert load(tmp_path, text) == IssueOverrides()


def test_reads_this_weeks_entry_and_ignores_other_weeks(tmp_path):
    text = """\
2026-W47:
  intro: Last week.
2026-W48:
  intro: A shorter week.
  theme_order: [Video consultations]
  items:
    - url: https://partner.example/news/a
      title: New title
      blurb: ""
      pin: true
"""
    assert load(tmp_path, text) == IssueOverrides(
        intro="A shorter week.",
        theme_order=("Video consultations",),
        items=(ItemOverride("https://partner.example/news/a", "New title", "", pin=True),),
    )
    assert load(tmp_path, text, "2026-W49") == IssueOverrides()


def test_reads_the_desks_keys(tmp_path):
    text = """\
2026-W48:
  subject: Winter pressures, and what helps
  preheader: Three reports and a pilot
  intro_note: A day late this week, sorry.
  items:
    - url: https://partner.example/news/a
      order: 2
    - url: https://partner.example/news/b
      lead: false
"""
    assert load(tmp_path, text) == IssueOverrides(
        subject="Winter pressures, and what helps",
        preheader="Three reports and a pilot",
        intro_note="A day late this week, sorry.",
        items=(
            ItemOverride("https://partner.example/news/a", order=2),
            ItemOverride("https://partner.example/news/b", lead=False),
        ),
    )


# load_overrides: mistakes, with file, line and key


def test_a_bad_theme_in_another_weeks_entry_is_still_an_error(tmp_path):
    text = """\
2026-W48:
  items:
    - url: https://partner.example/news/a
      theme: Helth inequalities
"""
    assert problems(tmp_path, text.replace("W48", "W49")) == [
        "overrides.yaml:4: 2026-W49.items[0].theme: 'Helth inequalities' is not a theme "
        "(did you mean 'Health inequalities'?)"
    ]


def test_an_unknown_theme_in_theme_order(tmp_path):
    text = "2026-W48:\n  intro: Hi\n  theme_order:\n    - Video consultations\n    - Gardening\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:5: 2026-W48.theme_order[1]: 'Gardening' is not a theme "
        "(expected a theme in feeds.yaml)"
    ]


def test_an_unknown_key_suggests_the_right_one(tmp_path):
    text = "2026-W48:\n  items:\n    - url: https://partner.example/news/a\n      titel: New\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:4: 2026-W48.items[0].titel: unknown key (did you mean 'title'?)"
    ]


@pytest.mark.parametrize("key", ["2026-48", "W48", "2026-W54", "2026-W00"])
def test_a_key_that_is_not_an_issue_id(tmp_path, key):
    assert problems(tmp_path, f"{key}:\n  intro: Hi\n") == [
        f"overrides.yaml:1: {key}: is not an issue id (expected a week like 2026-W48)"
    ]


def test_the_same_issue_twice(tmp_path):
    text = "2026-W48:\n  intro: One\n2026-W48:\n  intro: Two\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:3: 2026-W48: appears twice (expected each issue once)"
    ]


def test_an_item_that_changes_nothing(tmp_path):
    text = "2026-W48:\n  intro: Hi\n  items:\n    - url: https://partner.example/news/a\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:4: 2026-W48.items[0]: changes nothing "
        "(expected title, blurb, theme, pin, order, drop or lead)"
    ]


def test_an_empty_blurb_is_a_change(tmp_path):
    text = '2026-W48:\n  items:\n    - url: https://partner.example/news/a\n      blurb: ""\n'
    (item,) = load(tmp_path, text).items
    assert item.blurb == ""


def test_a_later_weeks_drop_false_keeps_an_item_an_earlier_week_dropped(tmp_path):
    week = "{}:\n  items:\n    - url: https://partner.example/news/{}\n      drop: {}\n"
    text = (  # in the file's order, not the weeks'
        week.format("2026-W47", "a", "false")
        + week.format("2026-W45", "a", "true")
        + week.format("2026-W46", "b", "true")
    )
    assert load(tmp_path, text, "2026-W46").earlier_drops == {"https://partner.example/news/a"}
    assert load(tmp_path, text, "2026-W48").earlier_drops == {"https://partner.example/news/b"}
    (kept,) = load(tmp_path, text, "2026-W47").items
    assert kept.drop is False  # a change: it keeps the item


def test_pin_and_drop_together(tmp_path):
    text = """\
2026-W48:
  items:
    - url: https://partner.example/news/a
      pin: true
      drop: true
"""
    assert problems(tmp_path, text) == [
        "overrides.yaml:3: 2026-W48.items[0]: both pins and drops the item (expected one of them)"
    ]


def test_pick_and_drop_together(tmp_path):
    text = "2026-W48:\n  items:\n    - url: https://a.example/x\n      lead: true\n      drop: true"
    assert problems(tmp_path, text) == [
        "overrides.yaml:3: 2026-W48.items[0]: both picks and drops the item (expected one of them)"
    ]


def test_a_place_from_one_and_a_subject_on_one_line(tmp_path):
    text = """\
2026-W48:
  subject: "Two\\nlines"
  items:
    - url: https://partner.example/news/a
      order: 0
"""
    assert problems(tmp_path, text) == [
        "overrides.yaml:2: 2026-W48.subject: 'Two\\nlines' is not valid "
        "(expected one line of text)",
        "overrides.yaml:5: 2026-W48.items[0].order: 0 is not valid (expected a number above 0)",
    ]


def test_the_same_url_twice_counts_canonical_urls(tmp_path):
    text = """\
2026-W48:
  items:
    - url: https://partner.example/news/a
      pin: true
    - url: https://PARTNER.example/news/a/?utm_source=rss
      title: Again
"""
    assert problems(tmp_path, text) == [
        "overrides.yaml:5: 2026-W48.items[1].url: "
        "'https://PARTNER.example/news/a/?utm_source=rss' is overridden twice "
        "(expected each URL once; first at items[0])"
    ]


def test_a_url_that_is_not_a_url(tmp_path):
    text = "2026-W48:\n  items:\n    - url: partner.example/news/a\n      drop: true\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:3: 2026-W48.items[0].url: 'partner.example/news/a' is not valid "
        "(expected an http(s):// URL)"
    ]


def test_a_top_level_that_is_not_a_mapping(tmp_path):
    assert problems(tmp_path, "- 2026-W48\n") == [
        "overrides.yaml:1: (top): expected a mapping of issue ids (2026-W48) to overrides"
    ]


def test_a_yaml_syntax_error_names_its_line(tmp_path):
    assert problems(tmp_path, "2026-W48:\n  intro: Hi\n  items: [\n") == [
        "overrides.yaml:3: a [ or { on this line or above is never closed "
        "(expected a closing ] or })"
    ]


def test_a_missing_colon_is_named_at_its_line_in_plain_words(tmp_path):
    text = "2026-W48:\n  items:\n    - url https://partner.example/news/a\n      drop: true\n"
    assert problems(tmp_path, text) == [
        "overrides.yaml:3: this line is not a 'key: value' pair (is a colon missing?)"
    ]


def test_a_broken_item_neither_hides_the_others_nor_changes_nothing(tmp_path):
    text = """\
2026-W48:
  items:
    - url: https://partner.example/news/a
      title: [not, text]
    - url: https://partner.example/news/b
      theme: Gardening
"""
    assert problems(tmp_path, text) == [
        "overrides.yaml:4: 2026-W48.items[0].title: expected text",
        "overrides.yaml:6: 2026-W48.items[1].theme: 'Gardening' is not a theme "
        "(expected a theme in feeds.yaml)",
    ]


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    text = """\
2026-W47:
  items:
    - url: https://partner.example/news/a
2026-W48:
  items:
    - url: https://partner.example/news/b
      theme: Gardening
"""
    assert [line.split(": ")[0] for line in problems(tmp_path, text)] == [
        "overrides.yaml:3",
        "overrides.yaml:7",
    ]


# apply_overrides


def test_drop_removes_the_item():
    kept, dropped, warnings = apply([A, B], ItemOverride(A.url, drop=True))
    assert (kept, dropped, warnings) == ([B], [A], [])


def test_retitle_and_reblurb():
    (changed, _), _, _ = apply([A, B], ItemOverride(A.url, title="Better", blurb="Shorter."))
    assert (changed.title, changed.blurb, changed.theme) == ("Better", "Shorter.", A.theme)
    assert changed.reason == A.reason and not changed.pinned


def test_an_empty_blurb_clears_it():
    (changed,), _, _ = apply([A], ItemOverride(A.url, blurb=""))
    assert (changed.title, changed.blurb) == (A.title, "")


@pytest.mark.parametrize(
    ("asked", "declared"),
    [("video CONSULTATIONS", "Video consultations"), ("other news", "Other news")],
)
def test_move_uses_the_declared_spelling(asked, declared):
    (moved,), _, _ = apply([A], ItemOverride(A.url, theme=asked))
    assert (moved.theme, moved.reason) == (declared, "moved in the overrides file")


def test_pinned_items_come_first_in_file_order():
    kept, _, _ = apply(
        [A, B, C], ItemOverride(C.url, pin=True), ItemOverride(A.url, pin=True, title="A!")
    )
    assert [(i.url, i.pinned) for i in kept] == [(C.url, True), (A.url, True), (B.url, False)]
    assert kept[1].title == "A!"


@pytest.mark.parametrize(
    "url",
    [
        "https://partner.example/news/b/",
        "https://Partner.Example/news/b?utm_source=newsletter&utm_medium=email",
        "https://partner.example:443/news/b#top",
    ],
)
def test_override_urls_match_canonically(url):
    kept, dropped, warnings = apply([A, B], ItemOverride(url, drop=True))
    assert (kept, dropped, warnings) == ([A], [B], [])


def test_an_unknown_url_is_only_a_warning():
    kept, dropped, warnings = apply([A], ItemOverride("https://elsewhere.example/x", drop=True))
    assert (kept, dropped) == ([A], [])
    assert warnings == [
        "overrides: https://elsewhere.example/x is not among this issue's items; nothing to change"
    ]


def test_order_places_an_item_in_its_theme_and_leaves_the_others_around_it():
    video = [issue_item(f"https://partner.example/v/{n}", "Video consultations") for n in "xy"]
    items = [A, video[0], B, video[1], C]  # two themes, interleaved as the weeknote had them
    kept, _, _ = apply(items, ItemOverride(C.url, order=1), ItemOverride(video[1].url, order=1))
    # Health inequalities is C, A, B and Video consultations y, x, each in its own slots.
    assert [i.url for i in kept] == [C.url, video[1].url, A.url, video[0].url, B.url]


def test_the_lowest_place_is_taken_first_and_a_place_past_the_end_is_last():
    kept, _, _ = apply([A, B, C], ItemOverride(A.url, order=9), ItemOverride(C.url, order=2))
    assert [i.url for i in kept] == [B.url, C.url, A.url]
