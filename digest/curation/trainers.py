"""How the theme classifier learns: a weight per theme for every feature, from labelled rows.

A linear SVM is the one builds use (digest.curation.classify says why); complement and
multinomial naive Bayes and an averaged perceptron stay selectable, so `digest themes evaluate
--method` can compare them again as the examples grow.
"""

from __future__ import annotations

import math
import operator
import random
from collections import Counter

from digest.curation.features import Feature, feature_name

ALPHA = 0.5  # add-alpha smoothing; 0.3 and 1 did as well on the fixtures, 0.1 and 2 worse
PERCEPTRON_EPOCHS = 10
# The SVM's penalty on a misclassified row (liblinear's and scikit-learn's default; 2 did as
# well on both sets the README measures, 0.5 a point worse on the newsletter), and when its
# solver stops: once no row's projected gradient is further than SVM_TOLERANCE from another's
# (liblinear's default for this solver), or after SVM_EPOCHS passes. 0.001 measured the same
# and took twice as long; at 0.1 the solution still depends a little on the order of the rows
# (the newsletter's figure moved within half a point as the themes were reordered).
SVM_PENALTY = 1.0
SVM_TOLERANCE = 0.1
SVM_EPOCHS = 200
# Methods whose models count each distinct feature of a text once and divide its scores by the
# text's length; the last weight of each of their features is its share of that length squared.
NORMALISED = frozenset({"svm"})

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


def _linear_svm(rows: Rows, classes: int):
    """A linear SVM per theme against the rest (squared hinge loss, L2 penalty), each solved by
    dual coordinate descent (Hsieh et al. 2008, liblinear's solver), visiting the rows in the
    same random order for every theme: a theme's SVM does not depend on the order of the themes.

    A row is its distinct features, each weighted by its inverse document frequency, scaled to
    length 1, and a constant 1 whose weight is the theme's bias. A row's penalty is SVM_PENALTY
    over its theme's share of the rows: themes with few examples weigh as much as those with
    many. Rows' weights are not used: to an SVM a seed is a document like any other, and
    weighing seeds six times measured a little worse on both sets the README measures.

    A feature's weights come out multiplied by its idf, with its idf squared last: a text's
    scores are its distinct features' weights summed, over the square root of that last sum
    (digest.curation.classify)."""
    frequency = Counter(feature for _, found, _ in rows for feature in found)
    idf = {f: math.log((1 + len(rows)) / (1 + n)) + 1 for f, n in frequency.items()}
    column = {feature: n for n, feature in enumerate(idf)}  # in the rows' order
    bias = len(column)
    data = []
    for _, found, _ in rows:
        values = [idf[feature] for feature in found]
        length = math.sqrt(sum(v * v for v in values)) or 1.0
        data.append(([*map(column.__getitem__, found), bias], [v / length for v in values] + [1.0]))
    share = Counter(theme for theme, _, _ in rows)
    penalties = [SVM_PENALTY * len(rows) / (len(share) * share[theme]) for theme, _, _ in rows]
    vectors = [
        _dual_descent(data, [1.0 if theme == c else -1.0 for theme, _, _ in rows], penalties)
        for c in range(classes)
    ]
    weights = {
        feature: (*(idf[feature] * vector[n] for vector in vectors), idf[feature] ** 2)
        for feature, n in column.items()
    }
    return tuple(vector[bias] for vector in vectors), weights


def _dual_descent(data, signs: list[float], penalties: list[float]) -> list[float]:
    """The weights of one L2-penalised squared-hinge SVM: `data` is each row's (columns, values),
    `signs` +1 for the theme's rows and -1 for the rest. As liblinear does, a row whose dual
    variable is 0 and whose gradient says it stays 0 is set aside until the others converge,
    then every row is checked again."""
    weights = [0.0] * (1 + max((max(columns) for columns, _ in data), default=0))
    weight_of = weights.__getitem__
    alphas = [0.0] * len(data)
    diagonal = [0.5 / penalty for penalty in penalties]
    norms = [sum(v * v for v in values) + d for (_, values), d in zip(data, diagonal, strict=True)]
    active, aside = list(range(len(data))), []
    shuffle = random.Random(0).shuffle
    ceiling = math.inf
    for _ in range(SVM_EPOCHS):
        shuffle(active)
        visited, active = active, []
        highest, lowest = -math.inf, math.inf
        for n in visited:
            columns, values = data[n]
            alpha = alphas[n]
            margin = sum(map(operator.mul, values, map(weight_of, columns)))
            gradient = signs[n] * margin - 1 + diagonal[n] * alpha
            if alpha == 0 and gradient > ceiling:
                aside.append(n)
                continue
            active.append(n)
            projected = gradient if alpha > 0 else min(gradient, 0.0)
            highest, lowest = max(highest, projected), min(lowest, projected)
            if projected != 0:
                alphas[n] = max(alpha - gradient / norms[n], 0.0)
                step = (alphas[n] - alpha) * signs[n]
                for column, value in zip(columns, values, strict=True):
                    weights[column] += step * value
        if highest - lowest <= SVM_TOLERANCE:
            if not aside:
                break
            active, aside, ceiling = active + aside, [], math.inf  # check every row again
        else:
            ceiling = highest if highest > 0 else math.inf
    return weights


TRAINERS = {
    "svm": _linear_svm,
    "cnb": _complement_naive_bayes,
    "nb": _naive_bayes,
    "perceptron": _perceptron,
}
