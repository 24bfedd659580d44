"""Realistic weeknote pages against the links a human editor would take from each, exactly.

Each fixture `NAME.html` in tests/fixtures/weeknotes has a `NAME.expected.json` written by
reading the page: its URL, optional selector, title, the start of the editorial, the section
headings in order, the problems, and every link as [theme, title, url] in page order. The whole
list is compared, so a missing link (recall) and an extra one (precision) both fail.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from digest.core.settings import Theme
from digest.curation.themes import theme_for_heading
from digest.weeknote.extract import Weeknote, extract_weeknote

FIXTURES = Path(__file__).parent / "fixtures" / "weeknotes"
NAMES = sorted(path.name.removesuffix(".expected.json") for path in FIXTURES.glob("*.json"))
EDITORIAL = "(editorial)"  # the theme column of a link in the editorial
THEMES = (
    Theme("Rapid learning and improvement", aliases=("Rapid learning",)),
    Theme("Video consultations", aliases=("Remote consultations", "Virtual appointments")),
    Theme("Staff health and wellbeing", aliases=("Looking after ourselves", "Staff wellbeing")),
    Theme("Health inequalities", aliases=("Tackling inequalities",)),
    Theme("Digital tools", aliases=("Tech and tools", "Digital")),
    Theme("Events and opportunities", aliases=("Dates for your diary", "Events")),
)


def load(name: str) -> tuple[dict, Weeknote]:
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    html = (FIXTURES / f"{name}.html").read_bytes()  # bytes: the page declares its own charset
    return expected, extract_weeknote(html, expected["url"], selector=expected["selector"])


def rows(note: Weeknote) -> list[list[str]]:
    """Every link as [theme, title, url], in page order."""
    found = []
    for section in note.sections:
        theme = theme_for_heading(section.heading, THEMES).theme if section.heading else EDITORIAL
        found += [[theme, link.title, link.url] for link in section.links]
    return found


def diff(expected: list[list[str]], actual: list[list[str]]) -> str:
    lines = difflib.unified_diff(
        [" | ".join(row) for row in expected],
        [" | ".join(row) for row in actual],
        "expected",
        "extracted",
        lineterm="",
    )
    return "\n".join(lines)


def test_there_are_at_least_four_fixtures():
    assert len(NAMES) >= 4
    assert all((FIXTURES / f"{name}.html").exists() for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_links_exactly(name):
    expected, note = load(name)
    actual = rows(note)
    assert actual == expected["links"], "links differ:\n" + diff(expected["links"], actual)


@pytest.mark.parametrize("name", NAMES)
def test_title_editorial_headings_and_problems(name):
    expected, note = load(name)
    assert note.title == expected["title"]
    assert note.editorial.startswith(expected["editorial_starts"]), note.editorial
    assert [section.heading for section in note.sections] == expected["headings"]
    assert list(note.problems) == expected["problems"]


@pytest.mark.parametrize("name", NAMES)
def test_positions_count_up_and_canonical_urls_are_unique(name):
    _, note = load(name)
    found = [link for section in note.sections for link in section.links]
    assert [link.position for link in found] == list(range(len(found)))
    assert len({link.canonical_url for link in found}) == len(found)
    assert all(
        link.section == section.heading for section in note.sections for link in section.links
    )
