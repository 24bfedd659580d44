"""How well the classifier themes real weeknote links it has not seen.

Leave-one-page-out over tests/fixtures/weeknotes: each page's links are labelled with the theme
their section heading names (tests/test_weeknote_fixtures.py's THEMES); the classifier learns
from the other pages (titles, blurbs, URLs) and the themes' seeds, and classifies each held-out
link from its title and blurb and URL, as editorial links are classified, and from its title and
URL alone, as a one-line feed item is. With the themes' names and aliases as the only seeds, and
with the offline example's keywords added; the threshold leaves curation.catch_all_share of the
held-out links to the catch-all, as builds set it. `pytest -s` prints the tables.

The targets: at least 83% of links in their section's theme from title and blurb (84% and 85%
measured; the issue's goal is 85%), 80% from the title alone (82% measured), and the catch-all
within its share.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.settings import Curation, Theme
from digest.curation.classify import Example
from digest.curation.evaluate import Evaluation, cross_validate, report_lines, threshold_for_share
from digest.curation.themes import theme_for_heading
from tests.test_weeknote_fixtures import NAMES, THEMES, load

DEMO = Path(__file__).parent.parent / "examples" / "demo" / "feeds.yaml"
RIGHT, TITLE_ALONE = 0.83, 0.8


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
                found.append(Example(choice.theme, link.title, link.blurb, link.url, name))
    return found


def with_demo_keywords() -> tuple[Theme, ...]:
    keywords = {theme.name: theme.keywords for theme in load_config(DEMO).themes}
    return tuple(Theme(t.name, t.aliases, keywords.get(t.name, ())) for t in THEMES)


SEEDS = {"aliases only": lambda: THEMES, "aliases and demo keywords": with_demo_keywords}
# As a weeknote's editorial links are classified (title and blurb), and as feed items of a line
# (the title alone).
SHAPES = {"title and blurb": True, "title alone": False}
SHARE = Curation().catch_all_share  # the threshold is set as builds set it


@cache
def evaluation(seeds: str, shape: str) -> Evaluation:
    raw = cross_validate(fixture_examples(), SEEDS[seeds](), threshold=0.0, context=SHAPES[shape])
    return Evaluation(raw.method, threshold_for_share(raw, SHARE), raw.outcomes)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seeds", SEEDS)
def test_print_the_table(seeds, shape):
    result = evaluation(seeds, shape)
    print(f"\n{len(NAMES)} pages, seeds: {seeds}, classified from the {shape}")
    print("\n".join(report_lines(result, [theme.name for theme in THEMES])))
    assert len(result.outcomes) >= 30


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seeds", SEEDS)
def test_the_catch_all_gets_at_most_its_share(seeds, shape):
    assert evaluation(seeds, shape).abstain_rate <= SHARE


@pytest.mark.parametrize("seeds", SEEDS)
def test_five_in_six_links_land_in_their_sections_theme(seeds):
    assert evaluation(seeds, "title and blurb").accuracy >= RIGHT
    assert evaluation(seeds, "title alone").accuracy >= TITLE_ALONE
