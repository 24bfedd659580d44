"""The trained theme classifier, kept in the state (theme_models) between builds.

Training on every build cost a build 0.1-0.6 s, and calibrating the threshold costs several
trainings more; the examples change once a week. So a model is kept under a fingerprint of
everything it learnt from (the examples, the themes' names, aliases and keywords, the method,
the target catch-all share and the version of the features), and a build whose fingerprint is
stored uses it as it is. Only the newest model is kept.

The threshold is calibrated by cross-validation: the confidence below which
`curation.catch_all_share` of held-out links fall (digest.curation.evaluate). A build that finds
no model calibrates on CALIBRATION_FOLDS folds of the issues; `digest themes evaluate` holds out
every issue in turn, which is finer, and stores the model it calibrated for the builds after.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from digest.core.settings import Theme
from digest.curation.classify import METHOD, Classifier, Example
from digest.curation.evaluate import (
    Evaluation,
    configured,
    cross_validate,
    report_lines,
    threshold_for_share,
)

if TYPE_CHECKING:
    from digest.core.store import Store

# Raise it when the features or the training change: a model stored by another version of
# digest is then trained again rather than used.
MODEL_VERSION = 3  # 3: the linear SVM in place of complement naive Bayes
CALIBRATION_FOLDS = 5


@dataclass(frozen=True)
class StoredModel:
    classifier: Classifier
    held_out: int  # links the threshold was calibrated on
    trained: str


def fingerprint(examples: Sequence[Example], themes: Sequence[Theme], share: float) -> str:
    """A hash of everything a model learns from, in order."""
    content = [
        MODEL_VERSION,
        METHOD,
        share,
        [[t.name, list(t.aliases), list(t.keywords)] for t in themes],
        [[e.theme, e.title, e.context, e.url, e.issue] for e in examples],
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def cached_classifier(
    store: Store, examples: Sequence[Example], themes: Sequence[Theme], share: float, now: datetime
) -> Classifier:
    """The stored model for these examples and themes, else one trained, calibrated and
    stored."""
    key = fingerprint(examples, themes, share)
    stored = stored_model(store, key)
    if stored is not None:
        return stored.classifier
    evaluation = cross_validate(examples, themes, METHOD, 0.0, folds=CALIBRATION_FOLDS)
    return fit_and_store(store, key, examples, themes, evaluation, share, now)


def fit_and_store(
    store: Store,
    key: str,
    examples: Sequence[Example],
    themes: Sequence[Theme],
    evaluation: Evaluation,
    share: float,
    now: datetime,
) -> Classifier:
    """Train on every example with the threshold `evaluation` (unthresholded) calls for, and
    keep the model under `key` in place of any other."""
    threshold = threshold_for_share(evaluation, share)
    classifier = Classifier.train(examples, themes, METHOD, threshold)
    with store.transaction() as db:
        db.execute("DELETE FROM theme_models")
        db.execute(
            "INSERT INTO theme_models (fingerprint, model, threshold, held_out, trained) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, classifier.to_json(), threshold, len(evaluation.outcomes), now.isoformat()),
        )
    return classifier


def stored_model(store: Store, key: str) -> StoredModel | None:
    row = store.db.execute(
        "SELECT model, held_out, trained FROM theme_models WHERE fingerprint = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    return StoredModel(Classifier.from_json(row["model"]), row["held_out"], row["trained"])


@dataclass(frozen=True)
class Assessment:
    """What `digest themes evaluate` found: the evaluation at the calibrated threshold, the
    baselines' scores if asked for, and whether the builds' model was calibrated and kept."""

    evaluation: Evaluation
    share: float
    baselines: tuple = ()  # digest.curation.baseline.BaselineScore
    kept: bool = False


def assess(
    store: Store,
    examples: Sequence[Example],
    themes: Sequence[Theme],
    share: float,
    now: datetime,
    method: str = METHOD,
    last: int | None = None,
    baseline: bool = False,
) -> Assessment:
    """Cross-validate (each issue held out in turn, or the newest `last`), set the threshold
    that leaves `share` of the held-out links to the catch-all, and compare with the baselines
    when asked. Held out issue by issue with the builds' method, the calibrated model is kept
    for the builds."""
    examples = configured(examples, themes)
    raw = cross_validate(examples, themes, method, 0.0, last=last)
    threshold = threshold_for_share(raw, share)
    kept = method == METHOD and last is None
    if kept:
        fit_and_store(
            store, fingerprint(examples, themes, share), examples, themes, raw, share, now
        )
    scores = ()
    if baseline:
        from digest.curation.baseline import baseline_scores  # needs scikit-learn

        scores = tuple(baseline_scores(examples, themes, last))
    return Assessment(Evaluation(method, threshold, raw.outcomes), share, scores, kept)


def assessment_lines(assessment: Assessment, themes: Sequence[str]) -> list[str]:
    """`digest themes evaluate`'s report: the evaluation's table, how the threshold was set,
    and each baseline beside digest's accuracy."""
    evaluation = assessment.evaluation
    lines = report_lines(evaluation, themes)
    lines.append("")
    lines.append(
        f"threshold {evaluation.threshold:.2f}: leaves at most {assessment.share:.0%} of the "
        "held-out links to the catch-all (curation.catch_all_share)"
        + ("; kept with the model builds use" if assessment.kept else "")
    )
    for score in assessment.baselines:
        ahead = (evaluation.accuracy - score.accuracy) * 100
        lines.append(
            f"{score.name}: {score.accuracy:.1%} right, never abstaining "
            f"(digest {evaluation.accuracy:.1%}, {ahead:+.1f} points)"
        )
    return lines


def assessment_dict(assessment: Assessment, themes: Sequence[str]) -> dict:
    return {
        **assessment.evaluation.as_dict(themes),
        "catch_all_share": assessment.share,
        "kept": assessment.kept,
        "baselines": [
            {"name": s.name, "accuracy": round(s.accuracy, 4), "links": s.links}
            for s in assessment.baselines
        ],
    }
