"""How the theme classifier learns: a weight per theme for every feature, from labelled rows.

Complement naive Bayes is the one builds use (digest.curation.classify says why); multinomial
naive Bayes and an averaged perceptron stay selectable, so `digest themes evaluate --method` can
compare them again as the examples grow.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from digest.curation.features import Feature, feature_name

ALPHA = 0.5  # add-alpha smoothing; 0.3 and 1 did as well on the fixtures, 0.1 and 2 worse
PERCEPTRON_EPOCHS = 10

Rows = list[tuple[int, dict[Feature, float], float]]  # (theme index, feature counts, weight)


def _naive_bayes(rows: Rows, classes: int):
    """Multinomial naive Bayes: log P(feature | theme), add-alpha smoothed; uniform priors."""
    counts, totals, vocabulary = _counts(rows, classes)
    size = len(vocabulary) or 1
    denominators = [math.log(total + ALPHA * size) for total in totals]
    weights = {
        feature: tuple(
            math.log(counts[c].get(feature, 0.0) + ALPHA) - denominators[c] for c in range(classes)
        )
        for feature in vocabulary
    }
    return (0.0,) * classes, weights


def _complement_naive_bayes(rows: Rows, classes: int):
    """Complement naive Bayes: a theme scores by how unlike the other themes' words the text is,
    which is steadier when some themes have many more examples than others."""
    counts, totals, vocabulary = _counts(rows, classes)
    size = len(vocabulary) or 1
    everything = Counter()
    for counter in counts:
        everything.update(counter)
    logs = [math.log(sum(totals) - totals[c] + ALPHA * size) for c in range(classes)]
    # A theme's weight for a feature is logs[theme] - log(the feature's count in the other
    # themes + alpha). Most features occur under one theme or two: work out every theme's as if
    # none had seen it, then correct those that had.
    weights = {}
    for feature in vocabulary:
        unseen = math.log(everything[feature] + ALPHA)
        weights[feature] = [log - unseen for log in logs]
    for c, counter in enumerate(counts):
        for feature, count in counter.items():
            weights[feature][c] = logs[c] - math.log(everything[feature] - count + ALPHA)
    return (0.0,) * classes, {feature: tuple(vector) for feature, vector in weights.items()}


def _counts(rows: Rows, classes: int):
    counts = [Counter() for _ in range(classes)]
    for theme, found, weight in rows:
        counter = counts[theme]
        for feature, count in found.items():
            counter[feature] += count * weight
    totals = [sum(counter.values()) for counter in counts]
    vocabulary = sorted(set().union(*counts), key=feature_name)
    return counts, totals, vocabulary


def _perceptron(rows: Rows, classes: int):
    """Averaged multiclass perceptron over binary features, shuffled with a fixed seed."""
    weights: dict[Feature, list[float]] = {}
    totals: dict[Feature, list[float]] = {}  # running sums for averaging
    order = list(range(len(rows)))
    shuffle = random.Random(0).shuffle
    steps = 0
    for _ in range(PERCEPTRON_EPOCHS):
        shuffle(order)
        for n in order:
            theme, found, weight = rows[n]
            steps += 1
            guess = _perceptron_guess(weights, found, classes)
            if guess != theme:
                for feature in found:
                    vector = weights.setdefault(feature, [0.0] * classes)
                    total = totals.setdefault(feature, [0.0] * classes)
                    vector[theme] += weight
                    vector[guess] -= weight
                    total[theme] += weight * steps
                    total[guess] -= weight * steps
    averaged = {
        f: tuple(w - t / (steps + 1) for w, t in zip(weights[f], totals[f], strict=True))
        for f in weights
    }
    return (0.0,) * classes, averaged


def _perceptron_guess(weights, found: dict, classes: int) -> int:
    scores = [0.0] * classes
    for feature in found:
        vector = weights.get(feature)
        if vector is not None:
            scores = [s + w for s, w in zip(scores, vector, strict=True)]
    return max(range(classes), key=lambda c: (scores[c], -c))


TRAINERS = {"nb": _naive_bayes, "cnb": _complement_naive_bayes, "perceptron": _perceptron}
