"""The theme classifier: what it learns, how it explains itself, when it abstains."""

from __future__ import annotations

import pytest

from digest.core.settings import Theme
from digest.core.urls import domain_of
from digest.curation.classify import (
    PAIR_WORDS,
    Classifier,
    Example,
    features,
    host_words,
    seed_examples,
)
from digest.curation.evaluate import calibrate, cross_validate, report_lines
from digest.curation.words import stems

VIDEO = Theme("Video consultations", aliases=("Remote consultations",), keywords=("telehealth",))
EVENTS = Theme("Events and opportunities", aliases=("Dates for your diary",), keywords=("webinar",))
STAFF = Theme("Staff health and wellbeing", keywords=("burnout",))
THEMES = (VIDEO, EVENTS, STAFF)
EXAMPLES = [
    Example(
        VIDEO.name,
        "Patients liked their video appointments with the physio team",
        "a.example",
        "w1",
    ),
    Example(VIDEO.name, "A checklist for running a video clinic", "b.example", "w2"),
    Example(EVENTS.name, "Book a place at the spring conference, 14 May", "events.example", "w1"),
    Example(EVENTS.name, "Drop-in session on measurement, 9 April", "events.example", "w2"),
    Example(STAFF.name, "Reflective practice groups for ward staff", "c.example", "w1"),
    Example(STAFF.name, "Menopause advice clinic for colleagues", "c.example", "w2"),
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.train(EXAMPLES, THEMES, explain=True)


def test_features_are_stems_pairs_dates_and_the_hosts_words():
    found = features("Webinars on 9 April", "www.Events.example.org")
    assert {"webinar", "april", ("webinar", "9"), "#month", "#number"} <= set(found)
    assert {"event", "exampl"} <= set(found)  # the host's labels but the last, as words
    assert "on" not in found and "org" not in found  # a stop word; the top-level domain


def test_pairs_come_from_the_first_words_only():
    words = [f"w{n}x" for n in range(PAIR_WORDS + 5)]
    pairs = [f for f in features(" ".join(words)) if isinstance(f, tuple)]
    assert pairs[0] == ("w0x", "w1x") and len(pairs) == PAIR_WORDS - 1
    assert set(words) <= set(features(" ".join(words)))  # every word still counts


def test_host_words_split_labels_at_hyphens():
    assert host_words("digital.fenwick-icb.nhs.uk") == ["digit", "fenwick", "icb", "nhs"]
    assert host_words("www.wellbeing-hub.example") == ["wellb", "hub"]
    assert host_words("") == [] and host_words("localhost") == []


def test_domain_of_takes_the_host_without_www():
    assert domain_of("https://www.Example.org:8080/a?b") == "example.org"
    assert domain_of("http://[::1") == ""
    assert domain_of("not a url") == ""


def test_learns_the_labelled_themes(classifier):
    prediction = classifier.classify("Our video clinic checklist, updated")
    assert prediction.theme == VIDEO.name
    assert prediction.best == VIDEO.name and prediction.confidence > 0.9
    assert prediction.margin > 0
    assert "video" in prediction.top_features


def test_the_host_alone_can_decide(classifier):
    prediction = classifier.classify("Something on Thursday", "events.example")
    assert prediction.best == EVENTS.name
    assert "event" in prediction.top_features


def test_explains_only_when_trained_to(classifier):
    plain = Classifier.train(EXAMPLES, THEMES)
    text = "A video clinic checklist for the physio team"
    terse, explained = plain.classify(text), classifier.classify(text)
    assert terse.top_features is None and terse.nearest_examples == ()
    assert terse.describe() == explained.describe().split(";")[0] + ")"
    assert (terse.theme, terse.confidence) == (explained.theme, explained.confidence)
    assert "video" in explained.top_features and explained.nearest_examples


def test_is_given_the_stems_a_caller_has(classifier):
    text = "Webinar: our video clinic checklist, 9 April"
    given = classifier.classify(text, "events.example", stems(text))
    assert given == classifier.classify(text, "events.example")


def test_abstains_below_the_threshold():
    unsure = Classifier.train(EXAMPLES, THEMES, threshold=0.99)
    prediction = unsure.classify("A clinic for staff")
    assert prediction.theme is None and prediction.best is not None
    assert prediction.confidence < 0.99
    assert prediction.describe().startswith(f"classifier: abstained (best {prediction.best})")


def test_abstains_on_words_it_has_never_seen(classifier):
    prediction = classifier.classify("Quarterly accounts published")
    assert prediction.theme is None and prediction.best is None
    assert prediction.confidence == 0.0 and prediction.top_features == ()


def test_explains_with_the_nearest_examples(classifier):
    prediction = classifier.classify("A video clinic for the physio team")
    assert [e.text for e in prediction.nearest_examples] == [EXAMPLES[0].text, EXAMPLES[1].text]
    assert "video" in prediction.describe()


def test_the_nearest_examples_are_of_the_theme_asked_for(classifier):
    text = "Menopause clinic for staff, a video session in April"
    assert [e.text for e in classifier.nearest(text, STAFF.name)] == [
        EXAMPLES[5].text,
        EXAMPLES[4].text,
    ]
    assert [e.text for e in classifier.nearest(text, VIDEO.name, count=1)] == [EXAMPLES[1].text]
    relabelled = Classifier.train([Example("VIDEO consultations", "zoom clinic")], THEMES)
    assert relabelled.nearest("zoom", VIDEO.name)[0].theme == VIDEO.name


def test_with_no_examples_the_seeds_still_classify():
    seeded = Classifier.train([], THEMES)
    assert seeded.classify("Telehealth for everyone").theme == VIDEO.name
    assert seeded.classify("Our remote consultations guide").best == VIDEO.name
    assert seeded.classify("Burnout in nursing").theme == STAFF.name
    assert seeded.nearest("Burnout", STAFF.name) == ()


def test_seed_examples_are_names_aliases_and_keywords():
    texts = [e.text for e in seed_examples((VIDEO,))]
    assert texts == ["Video consultations", "Remote consultations", "telehealth"]


def test_examples_of_unconfigured_themes_are_ignored():
    renamed = [Example("Old theme", "video video video"), *EXAMPLES]
    classifier = Classifier.train(renamed, THEMES)
    assert classifier.themes == tuple(t.name for t in THEMES)
    assert all(e.theme != "Old theme" for e in classifier.examples)
    spelled = Classifier.train([Example("video CONSULTATIONS!", "zoom zoom")], THEMES)
    assert spelled.classify("zoom").best == VIDEO.name


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00\x1b[31m\u202e\ufeff",
        "\ufb01nance \uff26\uff55\uff4c\uff4c width \u00c9V\u00c9NEMENTS",
        "🙂" * 1000,
        "word " * 20_000,
        "<script>alert(1)</script>",
    ],
)
def test_hostile_and_unicode_text_never_raises(classifier, text):
    prediction = classifier.classify(text, "\x00bad host")
    assert prediction.theme in (None, *classifier.themes)
    assert 0.0 <= prediction.confidence <= 1.0


def test_folded_text_matches_its_plain_spelling():
    classifier = Classifier.train([Example(VIDEO.name, "T\u00e9l\u00e9consultation pilot")], THEMES)
    assert classifier.classify("TELECONSULTATION").best == VIDEO.name
    full_width = Classifier.train([Example(VIDEO.name, "\uff26\uff55\uff4c\uff4c")], THEMES)
    assert full_width.classify("full").best == VIDEO.name


@pytest.mark.parametrize("method", ["nb", "cnb", "perceptron"])
def test_every_method_is_deterministic_and_learns(method):
    first = Classifier.train(EXAMPLES, THEMES, method=method)
    again = Classifier.train(list(reversed(EXAMPLES)), THEMES, method=method)
    text = "A checklist for the video clinic"
    assert first.classify(text).best == VIDEO.name
    assert first.weights == Classifier.train(EXAMPLES, THEMES, method=method).weights
    if method != "perceptron":  # counting does not depend on the order of the examples
        assert first.classify(text) == again.classify(text)


def test_cross_validation_holds_out_each_issue():
    evaluation = cross_validate(EXAMPLES, THEMES, threshold=0.0)
    assert len(evaluation.outcomes) == len(EXAMPLES)
    assert evaluation.abstain_rate == 0.0
    scores = {s.theme: s for s in evaluation.scores([t.name for t in THEMES])}
    assert sum(s.support for s in scores.values()) == len(EXAMPLES)
    confusion = evaluation.confusion()
    assert sum(sum(row.values()) for row in confusion.values()) == len(EXAMPLES)
    data = evaluation.as_dict([t.name for t in THEMES])
    assert data["examples"] == 6 and set(data) >= {"accuracy", "catch_all_rate", "confusion"}
    lines = report_lines(evaluation, [t.name for t in THEMES])
    assert lines[0].split() == ["#", "theme", "precision", "recall", "support"]


def test_calibration_keeps_the_catch_all_within_its_share():
    evaluation = cross_validate(EXAMPLES, THEMES, threshold=0.0)
    threshold = calibrate(evaluation, max_abstain=0.2)
    calibrated = cross_validate(EXAMPLES, THEMES, threshold=threshold)
    assert calibrated.abstain_rate <= 0.2
    assert calibrate(evaluation, max_abstain=0.0) == 0.0
