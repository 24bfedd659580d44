"""How well the classifier themes links it has not seen, and the threshold that sends a chosen
share of them to the catch-all.

Each group (an issue, a fixture page) is held out in turn; the classifier learns from the other
groups and the themes' seeds, and classifies every held-out link. Or, as a newsletter grows,
the newest issues are held out and the classifier learns from the ones before them. A held-out
link is classified from its title and URL alone, the shape of a one-line feed item: its blurb
often repeats the title, and would make the classifier look surer than it is on real items. A
link it abstains on counts as the catch-all's, as it would in an email.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from digest.core.settings import Theme
from digest.core.text import normalise_heading
from digest.curation.classify import METHOD, THRESHOLD, Classifier, Example

ABSTAINED = "(catch-all)"  # the predicted column of a link the classifier abstained on


@dataclass(frozen=True)
class Outcome:
    """One held-out link: its label, the likeliest theme and how sure the classifier was."""

    example: Example
    best: str | None
    confidence: float


@dataclass(frozen=True)
class ThemeScore:
    theme: str
    precision: float | None  # None: nothing was predicted as this theme
    recall: float | None  # None: no link of this theme was held out
    support: int


@dataclass(frozen=True)
class Evaluation:
    method: str
    threshold: float
    outcomes: tuple[Outcome, ...]

    @property
    def predicted(self) -> list[str]:
        """What each held-out link would be themed as: its best theme, or the catch-all."""
        return [
            o.best if o.best is not None and o.confidence >= self.threshold else ABSTAINED
            for o in self.outcomes
        ]

    @property
    def accuracy(self) -> float:
        pairs = zip(self.outcomes, self.predicted, strict=True)
        return _share(sum(o.example.theme == p for o, p in pairs), len(self.outcomes))

    @property
    def abstain_rate(self) -> float:
        return _share(self.predicted.count(ABSTAINED), len(self.outcomes))

    @property
    def accepted_accuracy(self) -> float:
        """Accuracy on the links the classifier did not abstain on."""
        pairs = [
            (o, p) for o, p in zip(self.outcomes, self.predicted, strict=True) if p != ABSTAINED
        ]
        return _share(sum(o.example.theme == p for o, p in pairs), len(pairs))

    def confusion(self) -> dict[str, Counter[str]]:
        """Labelled theme -> predicted theme -> how many links."""
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for outcome, predicted in zip(self.outcomes, self.predicted, strict=True):
            table[outcome.example.theme][predicted] += 1
        return dict(table)

    def scores(self, themes: Sequence[str]) -> list[ThemeScore]:
        labelled = Counter(o.example.theme for o in self.outcomes)
        predicted = Counter(self.predicted)
        right = Counter(
            p for o, p in zip(self.outcomes, self.predicted, strict=True) if o.example.theme == p
        )
        return [
            ThemeScore(
                theme,
                right[theme] / predicted[theme] if predicted[theme] else None,
                right[theme] / labelled[theme] if labelled[theme] else None,
                labelled[theme],
            )
            for theme in themes
        ]

    def as_dict(self, themes: Sequence[str]) -> dict:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "examples": len(self.outcomes),
            "accuracy": round(self.accuracy, 4),
            "accepted_accuracy": round(self.accepted_accuracy, 4),
            "catch_all_rate": round(self.abstain_rate, 4),
            "themes": [vars(score) for score in self.scores(themes)],
            "confusion": {label: dict(row) for label, row in self.confusion().items()},
        }


def cross_validate(
    examples: Sequence[Example],
    themes: Sequence[Theme],
    method: str = METHOD,
    threshold: float = THRESHOLD,
    last: int | None = None,
    folds: int | None = None,
    context: bool = False,
) -> Evaluation:
    """Hold out each issue's examples in turn and classify them with a classifier trained on
    the rest; with `last`, hold out the newest `last` issues (in the order `examples` first
    names them) and train on the ones before; with `folds`, hold out every `folds`-th issue at
    a time, `folds` trainings in all. Examples with no issue form one group. A held-out link
    is classified from its title, or with `context` from its title and context (the shape of
    a weeknote's editorial link, classified with its blurb)."""
    groups = issue_groups(examples)
    if folds is not None and folds < len(groups):
        merged: dict[str | None, list[Example]] = {}
        for n, group in enumerate(groups.values()):
            merged.setdefault(str(n % folds), []).extend(group)
        groups = merged
    if last is not None:
        cut = max(len(groups) - last, 0)
        before = [e for group in list(groups.values())[:cut] for e in group]
        classifier = Classifier.train(before, themes, method=method, threshold=threshold)
        held = [e for group in list(groups.values())[cut:] for e in group]
        return Evaluation(method, threshold, tuple(_outcomes(classifier, held, context)))
    outcomes = []
    for held_out, group in groups.items():
        rest = [e for issue, other in groups.items() if issue != held_out for e in other]
        classifier = Classifier.train(rest, themes, method=method, threshold=threshold)
        outcomes += _outcomes(classifier, group, context)
    return Evaluation(method, threshold, tuple(outcomes))


def configured(examples: Sequence[Example], themes: Sequence[Theme]) -> list[Example]:
    """The examples labelled with a configured theme (in any spelling of its name)."""
    names = {normalise_heading(theme.name) for theme in themes}
    return [e for e in examples if normalise_heading(e.theme) in names]


def issue_groups(examples: Sequence[Example]) -> dict[str | None, list[Example]]:
    """The examples of each issue, the issues in the order the examples first name them."""
    groups: dict[str | None, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.issue, []).append(example)
    return groups


def _outcomes(classifier: Classifier, held: Sequence[Example], context: bool) -> list[Outcome]:
    outcomes = []
    for example in held:
        prediction = classifier.classify(example.text if context else example.title, example.url)
        outcomes.append(Outcome(example, prediction.best, prediction.confidence))
    return outcomes


def threshold_for_share(evaluation: Evaluation, share: float) -> float:
    """The confidence below which at most `share` of the held-out links fall: the threshold
    that sends that share of links like them to the catch-all (those with nothing known to go
    on are counted first, as they go there whatever the threshold)."""
    unknown = sum(o.best is None for o in evaluation.outcomes)
    ranked = sorted(o.confidence for o in evaluation.outcomes if o.best is not None)
    allowed = math.floor(share * len(evaluation.outcomes)) - unknown
    if allowed <= 0 or not ranked:
        return 0.0
    return ranked[allowed] if allowed < len(ranked) else 1.0


def report_lines(evaluation: Evaluation, themes: Sequence[str]) -> list[str]:
    """The evaluation as aligned plain text: per-theme scores, the totals, the confusion table
    (rows: the editor's theme; columns: the classifier's, numbered as in the first table)."""
    width = max(len(name) for name in [*themes, ABSTAINED, "theme"])
    lines = [f"{'#':>2}  {'theme':<{width}}  precision  recall  support"]
    for n, score in enumerate(evaluation.scores(themes), 1):
        lines.append(
            f"{n:>2}  {score.theme:<{width}}  {_percent(score.precision):>9}  "
            f"{_percent(score.recall):>6}  {score.support:>7}"
        )
    lines.append(
        f"{len(evaluation.outcomes)} links ({evaluation.method}, threshold "
        f"{evaluation.threshold:.2f}): {evaluation.accuracy:.0%} right, "
        f"{evaluation.abstain_rate:.0%} to the catch-all, "
        f"{evaluation.accepted_accuracy:.0%} right of those themed"
    )
    columns = [*themes, ABSTAINED]
    confusion = evaluation.confusion()
    lines.append("")
    lines.append(
        "labelled as / classified as".ljust(width + 4)
        + "".join(f"{n:>4}" for n in range(1, len(themes) + 1))
        + "  catch-all"
    )
    for n, theme in enumerate(themes, 1):
        row = confusion.get(theme, Counter())
        cells = "".join(f"{row[c]:>4}" for c in columns[:-1])
        lines.append(f"{n:>2}  {theme:<{width}}{cells}  {row[ABSTAINED]:>9}")
    return lines


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
