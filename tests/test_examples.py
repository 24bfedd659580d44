"""Labelled examples in a real state database: taken from a weeknote, upserted, counted."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta

from digest.core.settings import Theme
from digest.core.store import Store
from digest.curation.classify import Example
from digest.curation.examples import example_counts, load_examples, save_examples, weeknote_examples
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
            "Video clinic guide Video clinic guide: set-up tips.",
            "clinic.example",
            "2026-W12",
        ),
        "https://data.example/deprivation": Example(
            "Health inequalities",
            "Deprivation data Deprivation data shows the gap widening.",
            "data.example",
            "2026-W12",
        ),
    }


def test_upsert_relabel_and_count_in_a_real_database(tmp_path):
    path = tmp_path / "state.db"
    first = [
        ("https://a.example/1", Example("Video consultations", "video clinic", "a.example", "W1")),
        (
            "https://b.example/2",
            Example("Health inequalities", "deprived wards", "b.example", "W1"),
        ),
    ]
    with Store.open(path) as store:
        gained = save_examples(store, first, "weeknote", NOW)
        assert gained == {"Video consultations": 1, "Health inequalities": 1}
        again = [(url, dataclasses.replace(e, issue="W9")) for url, e in first]
        assert save_examples(store, again, "weeknote", NOW + timedelta(days=1)) == {}
        relabel = [
            ("https://a.example/1", Example("Health inequalities", "gap", "a.example", "W2"))
        ]
        save_examples(store, relabel, "learn", NOW + timedelta(days=7))
        assert example_counts(store) == {"Health inequalities": 2}
        assert example_counts(store, THEMES) == {
            "Video consultations": 0,
            "Health inequalities": 2,
        }
        assert load_examples(store) == [
            Example("Health inequalities", "deprived wards", "b.example", "W1"),
            Example("Health inequalities", "gap", "a.example", "W2"),
        ]
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT theme, issue, origin, updated FROM theme_examples WHERE canonical_url = ?",
            ("https://a.example/1",),
        ).fetchone()
    assert row == ("Health inequalities", "W2", "learn", (NOW + timedelta(days=7)).isoformat())


def test_counts_fold_stored_spellings_into_the_configured_theme(tmp_path):
    with Store.open(tmp_path / "state.db") as store:
        labelled = [
            ("https://a.example/1", Example("video CONSULTATIONS", "x", "", None)),
            ("https://a.example/2", Example("A removed theme", "y", "", None)),
        ]
        save_examples(store, labelled, "override", NOW)
        assert example_counts(store, THEMES) == {
            "Video consultations": 1,
            "Health inequalities": 0,
        }
