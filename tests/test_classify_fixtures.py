"""How well the classifier themes real weeknote links it has not seen.

Leave-one-page-out over tests/fixtures/weeknotes: each page's links are labelled with the theme
their section heading names (tests/test_weeknote_fixtures.py's THEMES); the classifier learns
from the other pages and the themes' seeds, and classifies each held-out link from its title,
blurb and host. Twice: with the themes' names and aliases as the only seeds, and with the offline
example's keywords added. `pytest -s` prints both tables.

The targets: at least 80% of links in their section's theme, at most 20% in the catch-all.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.settings import Theme
from digest.core.urls import domain_of
from digest.curation.classify import THRESHOLD, Example
from digest.curation.evaluate import Evaluation, calibrate, cross_validate, report_lines
from digest.curation.themes import theme_for_heading
from tests.test_weeknote_fixtures import NAMES, THEMES, load

DEMO = Path(__file__).parent.parent / "examples" / "demo" / "feeds.yaml"
RIGHT, CATCH_ALL = 0.8, 0.2


def fixture_examples() -> list[Example]:
    """Every link under a heading that names one of THEMES, labelled with it."""
    found = []
    for name in NAMES:
        _, note = load(name)
        for section in note.sections:
            choice = theme_for_heading(section.heading, THEMES) if section.heading else None
            if choice is None or choice.new_theme:
                continue
            for link in section.links:
                text = f"{link.title} {link.blurb}"
                found.append(Example(choice.theme, text, domain_of(link.url), name))
    return found


def with_demo_keywords() -> tuple[Theme, ...]:
    keywords = {theme.name: theme.keywords for theme in load_config(DEMO).themes}
    return tuple(Theme(t.name, t.aliases, keywords.get(t.name, ())) for t in THEMES)


SEEDS = {"aliases only": lambda: THEMES, "aliases and demo keywords": with_demo_keywords}


@cache
def evaluation(seeds: str, threshold: float = THRESHOLD) -> Evaluation:
    return cross_validate(fixture_examples(), SEEDS[seeds](), threshold=threshold)


@pytest.mark.parametrize("seeds", SEEDS)
def test_print_the_table(seeds):
    result = evaluation(seeds)
    print(f"\n{len(NAMES)} pages, seeds: {seeds}")
    print("\n".join(report_lines(result, [theme.name for theme in THEMES])))
    suggested = calibrate(evaluation(seeds, 0.0))
    print(f"threshold abstaining where links were more often wrong than right: {suggested:.2f}")
    assert len(result.outcomes) >= 30


@pytest.mark.parametrize("seeds", SEEDS)
def test_at_most_a_fifth_goes_to_the_catch_all(seeds):
    assert evaluation(seeds).abstain_rate <= CATCH_ALL


@pytest.mark.parametrize("seeds", SEEDS)
def test_four_in_five_links_land_in_their_sections_theme(seeds):
    assert evaluation(seeds).accuracy >= RIGHT
