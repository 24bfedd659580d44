"""How well the classifier themes links it has not seen: leave-one-group-out cross-validation.

Each group (an issue, a fixture page) is held out in turn; the classifier learns from the other
groups and the themes' seeds, and classifies every held-out link. A link it abstains on counts
as the catch-all's, as it would in an email when nothing else claims it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from digest.core.settings import Theme
from digest.curation.classify import THRESHOLD, Classifier, Example

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
    method: str = "cnb",
    threshold: float = THRESHOLD,
) -> Evaluation:
    """Hold out each issue's examples in turn and classify them with a classifier trained on
    the rest. Examples with no issue form one group of their own."""
    groups: dict[str | None, list[Example]] = defaultdict(list)
    for example in examples:
        groups[example.issue].append(example)
    outcomes = []
    for held_out in sorted(groups, key=lambda issue: issue or ""):
        rest = [e for issue, group in groups.items() if issue != held_out for e in group]
        classifier = Classifier.train(rest, themes, method=method, threshold=threshold)
        for example in groups[held_out]:
            prediction = classifier.classify(example.text, example.domain)
            outcomes.append(Outcome(example, prediction.best, prediction.confidence))
    return Evaluation(method, threshold, tuple(outcomes))


def calibrate(evaluation: Evaluation, max_abstain: float = 0.2) -> float:
    """The threshold that abstains on the least confident links exactly as far as they were
    more often wrong than right (each abstention then saves more wrong themes than it loses
    right ones), sending at most `max_abstain` of the links to the catch-all."""
    ranked = sorted(
        (o.confidence, o.example.theme == o.best) for o in evaluation.outcomes if o.best
    )
    unknown = len(evaluation.outcomes) - len(ranked)  # abstained whatever the threshold
    allowed = int(max_abstain * len(evaluation.outcomes)) - unknown
    best_cut, net = 0, 0  # net: wrong minus right among the links abstained on so far
    for cut, (_, right) in enumerate(ranked[:allowed], 1):
        net += -1 if right else 1
        if net > 0 and (cut == len(ranked) or ranked[cut][0] > ranked[cut - 1][0]):
            best_cut, net = cut, 0
    if best_cut == 0:
        return 0.0
    return ranked[best_cut][0] if best_cut < len(ranked) else 1.0


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
