"""A small, explainable theme classifier, learnt from links an editor has already themed.

Every weeknote files its links under the editor's headings, so each week adds labelled examples
(digest/examples.py). The classifier learns from them and from the configured themes
themselves: each theme's name, aliases and keywords are seed examples, so it works (less well)
before any weeknote was learnt.

Features of a text: its stems without stop words (digest/words.py), each pair of neighbouring
stems ("video consult"), "#month" and "#number" for the dates and times events carry, and the
words of the link's host ("events.example.org" gives "event" and "exampl"), counted as words
of the text: a host often names its subject ("digital.", "wellbeing.", "events."), and as words
they meet the seeds, which an opaque "@host" feature never does.

The model: complement naive Bayes (a theme scores by how unlike the *other* themes' examples
the text is) with add-alpha smoothing, each example's counts damped to log(1 + count) so a
blurb that repeats its title does not count its words twice. Measured by leave-one-page-out over
the weeknote fixtures (tests/test_classify_fixtures.py; 203 links from 15 pages) with aliases
alone / with keywords as seeds, never abstaining: 82% / 82% in their section's theme, against
78% / 80% for the first version (raw counts, the host as one opaque feature), 77% / 80% for
multinomial naive Bayes and 76% / 79% for an averaged perceptron on the same features, and
80% / 80% for a logistic regression (10 epochs of SGD, not kept). Of the changes, the host's
words and the damped counts each gained two to four links; nothing else tried moved it by more
than two links either way (a longer stop list, tf-idf, length normalisation, alpha 0.3-1, seed
weight 3-10, dropping the pairs). Weeknotes file very unequal numbers of links under their
themes, which is where the complement form is known to be steadier. Multinomial naive Bayes and
the perceptron remain selectable (`method=`), so `digest themes evaluate --method` can compare
them again as the examples grow.

Classifying is a handful of passes in C per item: the stems come from a per-word cache, every
feature is one dict lookup returning a weight per theme, and the scores are the column sums.
The explanation (the features that favoured the chosen theme over the runner-up most) is
worked out only when asked for.

Below `threshold` the classifier abstains, and the caller falls back to keywords, the feed's
default theme and the catch-all (digest/themes.py).
"""

from __future__ import annotations

import functools
import heapq
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise, repeat

from digest.config import Theme
from digest.text import excerpt, normalise_heading
from digest.words import content_stems

# Below it no theme holds even a third of the probability, a near guess among six to eight
# themes. Measured by tests/test_classify_fixtures.py, it sends 0.5-1% of the fixture links to
# the catch-all and costs at most one right one. `calibrate` (digest/evaluate.py) would abstain
# wherever held-out links were more often wrong than right: at 0.55-0.62, on 10-12% of the links,
# costing four points, because the fixture measure counts the catch-all as a miss as much as a
# wrong theme. Every fixture link belongs to some theme, though, so they cannot show how often
# an off-topic feed item should be let through: raise it if those end up themed.
THRESHOLD = 0.35
# Before this many labelled links (a weeknote or two) the classifier knows only the seeds, which
# is what keywords already say, so builds leave it out until then (digest/pipeline.py).
MIN_EXAMPLES = 20
ALPHA = 0.5  # add-alpha smoothing; 0.3 and 1 did as well on the fixtures, 0.1 and 2 worse
# An editor's keyword or alias counts as much as six words of examples: 3 and 10 did as well on
# the fixtures, and it is outweighed soon enough as labelled examples accumulate.
SEED_WEIGHT = 6.0
PERCEPTRON_EPOCHS = 10
TOP_FEATURES = 3
# Month names as stemmed, and their short forms: with "#number", the marks of a dated event.
_MONTHS = frozenset(
    "januari februari march april may june juli august septemb octob novemb decemb "  # noqa: SIM905
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DIGIT = re.compile(r"\d")
_HOSTS: dict[str, list[str]] = {}  # host -> its words; feeds link to the same few hosts
_MAX_HOSTS = 10_000

Feature = str | tuple[str, str]  # a stem or mark, or a pair of neighbouring stems


@dataclass(frozen=True)
class Example:
    """A labelled link: its theme, its words (title and blurb) and its host."""

    theme: str
    text: str
    domain: str = ""
    issue: str | None = None  # the page or issue it came from; cross-validation holds it out


@dataclass(frozen=True)
class Prediction:
    theme: str | None  # None: not confident enough, the caller falls back
    best: str | None  # the likeliest theme, even when abstaining (None: nothing to go on)
    confidence: float  # the posterior of `best`, 0..1
    margin: float  # how far `best` scores above the runner-up
    nearest_examples: tuple[Example, ...] = ()
    # Works out top_features when first asked: most callers never ask.
    explain: functools.partial | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def top_features(self) -> tuple[str, ...]:
        """The features that favoured `best` over the runner-up most, strongest first."""
        return self.explain() if self.explain is not None else ()

    def describe(self, detailed: bool = True) -> str:
        """One line for `digest build --explain`; `detailed` adds the words that drove it and
        the nearest examples, which cost a second pass over the text."""
        verdict = self.theme or f"abstained (best {self.best or 'none'})"
        line = f"classifier: {verdict}, {self.confidence:.0%} sure (margin {self.margin:.1f}"
        if not detailed:
            return line + ")"
        words = ", ".join(self.top_features) or "no known words"
        line += f"; {words})"
        if self.nearest_examples:
            like = "; ".join(repr(excerpt(e.text, 60)) for e in self.nearest_examples)
            line += f", like {like}"
        return line


def host_words(domain: str) -> list[str]:
    """The stems of a host's labels but the last ("digital.fenwick-icb.nhs.uk" gives "digit",
    "fenwick", "icb", "nhs"), cached."""
    found = _HOSTS.get(domain)
    if found is None:
        if len(_HOSTS) >= _MAX_HOSTS:
            _HOSTS.clear()
        labels = domain.casefold().removeprefix("www.").split(".")[:-1]
        found = _HOSTS[domain] = content_stems(" ".join(labels).replace("-", " "))
    return found


def features(text: str, domain: str = "") -> list[Feature]:
    """Stems, neighbouring pairs of stems (("video", "consult")), "#month" and "#number" for
    dates and times (an event's mark), and the words of the host, repeats included."""
    return list(_stream(text, domain))


def _stream(text: str, domain: str) -> Iterator[Feature]:
    words = content_stems(text)
    return chain(words, pairwise(words), _marks(words, text), host_words(domain))


def _marks(words: list[str], text: str) -> list[str]:
    """The features of a text that are not its words: its dates and numbers. Most texts have
    neither, which a set test and a search in C tell before any word is counted."""
    months = 0 if _MONTHS.isdisjoint(words) else sum(map(_MONTHS.__contains__, words))
    numbers = sum(map(str.isdigit, words)) if _DIGIT.search(text) else 0
    return ["#month"] * months + ["#number"] * numbers


def feature_name(feature: Feature) -> str:
    return feature if isinstance(feature, str) else " ".join(feature)


def seed_examples(themes: Sequence[Theme]) -> list[Example]:
    """Each theme's name, aliases and keywords as examples of it."""
    return [
        Example(theme.name, text)
        for theme in themes
        for text in (theme.name, *theme.aliases, *theme.keywords)
    ]


@dataclass
class Classifier:
    themes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[Feature, tuple[float, ...]]  # feature -> a weight per theme
    examples: tuple[tuple[Example, frozenset[str]], ...] = ()  # for nearest_examples
    threshold: float = THRESHOLD
    method: str = "cnb"
    explain: bool = False  # reasons name the words and the nearest examples (--explain)
    packed: dict[Feature, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.packed = {feature: _pack(vector) for feature, vector in self.weights.items()}

    @classmethod
    def train(
        cls,
        examples: Iterable[Example],
        themes: Sequence[Theme],
        method: str = "cnb",
        threshold: float = THRESHOLD,
        explain: bool = False,
    ) -> Classifier:
        """Learn from `examples` whose theme is configured, plus the themes' seed examples;
        `explain` makes its reasons name the words and nearest examples (--explain)."""
        names = tuple(theme.name for theme in themes)
        by_key = {normalise_heading(name): name for name in names}
        # A label of a theme since renamed or removed teaches nothing.
        labelled = [e for e in examples if normalise_heading(e.theme) in by_key]
        rows = [
            (names.index(by_key[normalise_heading(example.theme)]), _damped(example), weight)
            for example, weight in [
                *((e, 1.0) for e in labelled),
                *((e, SEED_WEIGHT) for e in seed_examples(themes)),
            ]
        ]
        bias, weights = TRAINERS[method](rows, len(names))
        kept = tuple((example, frozenset(content_stems(example.text))) for example in labelled)
        return cls(names, bias, weights, kept, threshold, method, explain)

    def classify(self, text: str, domain: str = "", nearest: int = 0) -> Prediction:
        """The theme of a link, how sure, and why; `nearest` training examples most like it.

        Each occurrence of a feature counts (training damps repeats, classifying need not: it
        measured the same on the fixtures, and saves counting every item's features)."""
        total = sum(map(self.packed.get, _stream(text, domain), repeat(0)))
        if not total or not self.themes:  # nothing known to go on
            return Prediction(None, None, 0.0, 0.0)
        scores = _unpack(total, self.bias)
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)  # stable
        best, second = order[0], order[min(1, len(order) - 1)]
        confidence = _posterior(scores, best)
        return Prediction(
            theme=self.themes[best] if confidence >= self.threshold else None,
            best=self.themes[best],
            confidence=confidence,
            margin=scores[best] - scores[second],
            nearest_examples=self.nearest(text, nearest) if nearest else (),
            explain=functools.partial(self._top_features, text, domain, best, second),
        )

    def _top_features(self, text: str, domain: str, best: int, second: int) -> tuple[str, ...]:
        """The features that most favour the best theme over the runner-up, strongest first."""
        pulls = Counter()
        for feature in _stream(text, domain):
            vector = self.weights.get(feature)
            if vector is not None:
                pulls[feature_name(feature)] += vector[best] - vector[second]
        top = heapq.nlargest(TOP_FEATURES, pulls.items(), key=lambda entry: entry[1])
        return tuple(name for name, pull in top if pull > 0)

    def nearest(self, text: str, count: int = 2) -> tuple[Example, ...]:
        """The `count` training examples most like `text`: the stems they share, over the
        square root of the example's own (else the longest examples are nearest to all)."""
        words = set(content_stems(text))
        shared = [
            (len(words & stems) / math.sqrt(len(stems) or 1), n)
            for n, (_, stems) in enumerate(self.examples)
        ]
        shared = [entry for entry in shared if entry[0]]
        shared.sort(key=lambda entry: (-entry[0], entry[1]))
        return tuple(self.examples[n][0] for _, n in shared[:count])


# An item's scores are sums over its features of a weight per theme. Each feature's weights
# are packed into one integer, in fixed point, a field of _FIELD bits per theme above a field
# that counts the feature, so scoring an item is one C-level sum of integers (an unknown feature
# adds 0), unpacked once: a third of the time of summing tuples column by column. Weights are
# kept within ±_LIMIT (complement naive Bayes' stay within ±20), and a field holds the sum of
# 2**17 features before it could spill into the next.
_SCALE = 1 << 24  # resolution 6e-8: far finer than any difference that decides a theme
_LIMIT = 63.0
_OFFSET = 1 << 30  # added to every weight, so each field is positive: above _LIMIT * _SCALE
_FIELD = 48
_MASK = (1 << _FIELD) - 1


def _pack(vector: Sequence[float]) -> int:
    packed = 1  # the count field
    for index, weight in enumerate(vector, start=1):
        fixed = round(max(-_LIMIT, min(_LIMIT, weight)) * _SCALE) + _OFFSET
        packed |= fixed << (_FIELD * index)
    return packed


def _unpack(total: int, bias: Sequence[float]) -> list[float]:
    """The per-theme sums of the packed weight vectors whose sum is `total`."""
    offsets = (total & _MASK) * _OFFSET
    return [
        b + (((total >> (_FIELD * index)) & _MASK) - offsets) / _SCALE
        for index, b in enumerate(bias, start=1)
    ]


def _posterior(scores: list[float], best: int) -> float:
    top = scores[best]
    return 1.0 / sum(math.exp(score - top) for score in scores)


def _damped(example: Example) -> dict[Feature, float]:
    """An example's features, each counted log(1 + count) times."""
    counts = Counter(features(example.text, example.domain))
    return dict(zip(counts, map(math.log1p, counts.values()), strict=True))


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
    weights = {
        feature: tuple(
            logs[c] - math.log(everything[feature] - counts[c].get(feature, 0.0) + ALPHA)
            for c in range(classes)
        )
        for feature in vocabulary
    }
    return (0.0,) * classes, weights


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
