"""Labelled examples in a real state database: taken from a weeknote, upserted, counted."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta

import pytest

from digest.core.settings import Theme
from digest.core.store import Store
from digest.curation.classify import Example
from digest.curation.examples import (
    example_counts,
    forget_examples,
    load_examples,
    save_examples,
    weeknote_examples,
)
from digest.weeknote.extract import extract_weeknote
from tests.samples import NOW

THEMES = (
    Theme("Video consultations", aliases=("Remote consultations",)),
    Theme("Health inequalities", aliases=("Inequalities",)),
)
PAGE = """<html><body><article><h1>Weeknote 12</h1>
<p>Welcome back; see <a href="https://community.example/news">our news</a> for the rest.</p>
<h2>Remote consultations</h2>
<ul><li><a href="https://www.clinic.example/video?utm_source=x">Video clinic guide</a>:
set-up tips.</li></ul>
<h2>Inequalities</h2>
<p><a href="https://data.example/deprivation">Deprivation data</a> shows the gap widening.</p>
<h2>Job vacancies</h2>
<p><a href="https://jobs.example/1">A coordinator post</a> is open.</p>
</article></body></html>"""


def test_a_weeknote_labels_only_links_under_configured_themes():
    note = extract_weeknote(PAGE, "https://community.example/weeknote-12")
    labelled = dict(weeknote_examples(note, THEMES, "2026-W12"))
    assert labelled == {
        "https://www.clinic.example/video": Example(
            "Video consultations",
            "Video clinic guide",
            "Video clinic guide: set-up tips.",
            "https://www.clinic.example/video",
            "2026-W12",
        ),
        "https://data.example/deprivation": Example(
            "Health inequalities",
            "Deprivation data",
            "Deprivation data shows the gap widening.",
            "https://data.example/deprivation",
            "2026-W12",
        ),
    }


NESTED = """<html><body><article><h1>Weeknote 13</h1>
<p>Welcome back: a short week, and most of the news came from partners this time.</p>
<h2>Updates from the community</h2>
<h3>Remote consultations</h3>
<ul><li><a href="https://clinic.example/video">Video clinic guide</a></li></ul>
<h3>Around the network</h3>
<h4>Inequalities</h4>
<ul><li><a href="https://data.example/gap">Deprivation data</a></li></ul>
<h2>Jobs</h2>
<p><a href="https://jobs.example/1">A coordinator post</a> is open.</p>
</article></body></html>"""


@pytest.mark.parametrize(
    ("depth", "labels"),
    [
        (0, {}),
        (1, {"https://clinic.example/video": "Video consultations"}),
        (
            2,
            {
                "https://clinic.example/video": "Video consultations",
                "https://data.example/gap": "Health inequalities",
            },
        ),
    ],
)
def test_sub_headings_label_the_links_of_a_heading_that_names_no_theme(depth, labels):
    note = extract_weeknote(NESTED, "https://community.example/weeknote-13")
    found = weeknote_examples(note, THEMES, "2026-W13", depth=depth)
    assert {url: example.theme for url, example in found} == labels


def test_upsert_relabel_and_count_in_a_real_database(tmp_path):
    path = tmp_path / "state.db"
    a, b = "https://a.example/1", "https://b.example/2"
    first = [
        (a, Example("Video consultations", "video clinic", "", a, "W1")),
        (b, Example("Health inequalities", "deprived wards", "a map", b, "W1")),
    ]
    with Store.open(path) as store:
        gained = save_examples(store, first, "weeknote", NOW)
        assert gained == {"Video consultations": 1, "Health inequalities": 1}
        again = [(url, dataclasses.replace(e, issue="W9")) for url, e in first]
        assert save_examples(store, again, "weeknote", NOW + timedelta(days=1)) == {}
        relabel = [(a, Example("Health inequalities", "gap", "", a, "W2"))]
        save_examples(store, relabel, "learn", NOW + timedelta(days=7))
        assert example_counts(store) == {"Health inequalities": 2}
        assert example_counts(store, THEMES) == {
            "Video consultations": 0,
            "Health inequalities": 2,
        }
        assert load_examples(store) == [  # in the order first stored
            Example("Health inequalities", "gap", "", a, "W2"),
            Example("Health inequalities", "deprived wards", "a map", b, "W1"),
        ]
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT theme, text, title, context, domain, issue, origin, updated "
            "FROM theme_examples WHERE canonical_url = ?",
            (b,),
        ).fetchone()
    assert row == (
        *("Health inequalities", "deprived wards a map", "deprived wards", "a map", "b.example"),
        *("W1", "weeknote", NOW.isoformat()),
    )


def test_rows_from_before_titles_were_kept_apart_read_their_text_as_title(tmp_path):
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        save_examples(store, [("https://a.example/1", Example("T", "x"))], "learn", NOW)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE theme_examples SET text = 'old words', title = NULL, context = NULL")
    with Store.open(path) as store:
        assert load_examples(store) == [Example("T", "old words", "", "https://a.example/1")]


def test_forget_by_url_or_by_page(tmp_path):
    page = tmp_path / "weeknote-3.html"
    labelled = [
        ("https://a.example/1", Example("T", "one", issue=page.as_uri())),
        ("https://a.example/2", Example("T", "two", issue=page.as_uri())),
        ("https://b.example/3", Example("T", "three", issue="2026-W01")),
    ]
    with Store.open(tmp_path / "state.db") as store:
        save_examples(store, labelled, "learn", NOW)
        assert forget_examples(store, ["HTTPS://B.example/3?utm_source=x"]) == 1
        assert forget_examples(store, [], [str(page)]) == 2
        assert forget_examples(store, ["https://nothing.example/"], ["other.html"]) == 0
        assert load_examples(store) == []


def test_counts_fold_stored_spellings_into_the_configured_theme(tmp_path):
    with Store.open(tmp_path / "state.db") as store:
        labelled = [
            ("https://a.example/1", Example("video CONSULTATIONS", "x")),
            ("https://a.example/2", Example("A removed theme", "y")),
        ]
        save_examples(store, labelled, "override", NOW)
        assert example_counts(store, THEMES) == {
            "Video consultations": 1,
            "Health inequalities": 0,
        }
