"""A small, explainable theme classifier, learnt from links an editor has already themed.

Every weeknote files its links under the editor's headings, so each week adds labelled examples
(digest/curation/examples.py). The classifier learns from them and from the configured themes
themselves: each theme's name, aliases and keywords are seed examples, so it works (less well)
before any weeknote was learnt.

Features of a text: its stems without stop words (digest.curation.words), each pair of
neighbouring stems among the first twenty ("video consult"), the words of the link's host
("events.example.org" gives "event" and "exampl"), counted as words of the text: a host often
names its subject ("digital.", "wellbeing.", "events."), and as words they meet the seeds,
which an opaque "@host" feature never does; and "#month" and "#number" for the dates and times
events carry.

The model: complement naive Bayes (a theme scores by how unlike the *other* themes' examples
the text is) with add-alpha smoothing, each example's counts damped to log(1 + count) so a
blurb that repeats its title does not count its words twice. Measured by leave-one-page-out over
the weeknote fixtures (tests/test_classify_fixtures.py; 203 links from 15 pages) with aliases
alone / with keywords as seeds, never abstaining: 82% / 82% in their section's theme, against
78% / 80% for the first version (raw counts, the host as one opaque feature), 78% / 80% for
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
The explanation (the features that favoured the chosen theme over the runner-up most, and the
examples of that theme most like the text) is worked out only by a classifier trained to
explain (`digest build --explain`).

Below `threshold` the classifier abstains, and the caller falls back to keywords, the feed's
default theme and the catch-all (digest/curation/themes.py).
"""

from __future__ import annotations

import functools
import heapq
import math
import operator
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, pairwise, repeat

from digest.core.settings import Theme
from digest.core.text import excerpt, normalise_heading
from digest.curation.words import content_stems, without_stop_words

# Below it no theme holds even a third of the probability, a near guess among six to eight
# themes. Measured by tests/test_classify_fixtures.py, it sends 0.5-1% of the fixture links to
# the catch-all and costs at most one right one. `calibrate` (digest.curation.evaluate) would
# abstain wherever held-out links were more often wrong than right: at 0.55-0.62, on 10-12% of
# the links, costing four points, because the fixture measure counts the catch-all as a miss as
# much as a wrong theme. Every fixture link belongs to some theme, though, so they cannot show
# how often an off-topic feed item should be let through: raise it if those end up themed.
THRESHOLD = 0.35
# Before this many labelled links (a weeknote or two) the classifier knows only the seeds, which
# is what keywords already say, so builds leave it out until then (digest/pipeline.py).
MIN_EXAMPLES = 20
ALPHA = 0.5  # add-alpha smoothing; 0.3 and 1 did as well on the fixtures, 0.1 and 2 worse
# An editor's keyword or alias counts as much as six words of examples: 3 and 10 did as well on
# the fixtures, and it is outweighed soon enough as labelled examples accumulate.
SEED_WEIGHT = 6.0
PERCEPTRON_EPOCHS = 10
# Pairs of words are taken from a text's first twenty (not stop words): its title and opening,
# where it says what it is about. On the fixtures that put 82% right, one link more than pairs
# from every word, and it caps the lookups of a long summary's pairs (the time of classifying,
# bench/classify_bench.py: a fifth less for items like real feeds', a third for the longest).
PAIR_WORDS = 20
TOP_FEATURES = 3
NEAREST = 2  # examples named by an explanation
# Month names as stemmed, and their short forms: with "#number", the marks of a dated event.
_MONTHS = frozenset(
    "januari februari march april may june juli august septemb octob novemb decemb "  # noqa: SIM905
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
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


@dataclass(frozen=True, slots=True)
class Prediction:
    theme: str | None  # None: not confident enough, the caller falls back
    best: str | None  # the likeliest theme, even when abstaining (None: nothing to go on)
    confidence: float  # the posterior of `best`, 0..1
    margin: float  # how far `best` scores above the runner-up
    # What drove it, worked out only by a classifier trained to explain (--explain): the
    # features that favoured `best` over the runner-up most, and the nearest examples.
    top_features: tuple[str, ...] | None = None
    nearest_examples: tuple[Example, ...] = ()

    def describe(self) -> str:
        """One line for `digest build --explain`: the verdict, and what drove it if known."""
        verdict = self.theme or f"abstained (best {self.best or 'none'})"
        line = f"classifier: {verdict}, {self.confidence:.0%} sure (margin {self.margin:.1f}"
        if self.top_features is None:
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
    """Stems, neighbouring pairs of the first PAIR_WORDS stems (("video", "consult")), the
    words of the host, and "#month" and "#number" for dates and times (an event's mark),
    repeats included."""
    return list(_stream(text, domain))


def _stream(text: str, domain: str) -> Iterator[Feature]:
    words, hosts = content_stems(text), host_words(domain)
    words_and_hosts = words + hosts
    months = sum(map(_MONTHS.__contains__, words_and_hosts))
    numbers = sum(map(str.isdigit, words_and_hosts))
    pairs = pairwise(words[:PAIR_WORDS])
    return chain(words, pairs, hosts, ["#month"] * months, ["#number"] * numbers)


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
    examples: tuple[Example, ...] = ()  # learnt from, labelled with configured names
    threshold: float = THRESHOLD
    method: str = "cnb"
    explain: bool = False  # reasons name the words and the nearest examples (--explain)
    packed: dict[Feature, int] = field(init=False, repr=False, compare=False)
    number: int = field(init=False, repr=False, compare=False)  # "#number", packed

    def __post_init__(self) -> None:
        packed = {feature: _pack(vector) for feature, vector in self.weights.items()}
        month = packed.pop("#month", 0)
        if month:  # each month word counts "#month" too
            for word in _MONTHS:
                packed[word] = packed.get(word, 0) + month
        self.number = packed.pop("#number", 0)
        self.packed = packed

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
        kept = tuple(replace(e, theme=by_key[normalise_heading(e.theme)]) for e in labelled)
        return cls(names, bias, weights, kept, threshold, method, explain)

    def classify(self, text: str, domain: str = "", stemmed: list[str] | None = None) -> Prediction:
        """The theme of a link and how sure; why, too, when trained to explain. `stemmed` is
        `stems(text)` when the caller has it already.

        Each occurrence of a feature counts (training damps repeats, classifying need not: it
        measured the same on the fixtures, and saves counting every item's features)."""
        words = content_stems(text) if stemmed is None else without_stop_words(stemmed)
        total = self._total(words, domain)
        if not total or not self.themes:  # nothing known to go on
            return Prediction(None, None, 0.0, 0.0, () if self.explain else None)
        scores = _unpack(total, self.bias)
        top = max(scores)
        best = scores.index(top)  # the first of a tie
        # The posterior of `best`: 1 / the sum of exp(score - top) over every theme.
        confidence = 1.0 / sum(map(math.exp, map(operator.sub, scores, repeat(top))))
        theme = self.themes[best]
        chosen = theme if confidence >= self.threshold else None
        margin = top - max(scores[:best] + scores[best + 1 :], default=top)
        if not self.explain:
            return Prediction(chosen, theme, confidence, margin)
        drove = self._top_features(text, domain, best, scores)
        return Prediction(chosen, theme, confidence, margin, drove, self.nearest(text, theme))

    def _total(self, words: list[str], domain: str) -> int:
        """The packed sum of the features of `words` and `domain`, the same as summing over
        _stream, in fewer steps: unknown features (most pairs) are dropped before the sum, which
        allocates a new integer at every step; "#month" is folded into the month stems' weights;
        "#number" is counted only when a word has a character that is not a letter."""
        get, hosts = self.packed.get, host_words(domain)
        total = (
            sum(filter(None, map(get, words)))
            + sum(filter(None, map(get, pairwise(words[:PAIR_WORDS]))))
            + sum(filter(None, map(get, hosts)))
        )
        words_and_hosts = words + hosts
        if self.number and not "".join(words_and_hosts).isalpha():
            total += self.number * sum(map(str.isdigit, words_and_hosts))
        return total

    def _top_features(
        self, text: str, domain: str, best: int, scores: list[float]
    ) -> tuple[str, ...]:
        """The features that most favour the best theme over the runner-up, strongest first."""
        second = max(
            (n for n in range(len(scores)) if n != best), key=scores.__getitem__, default=best
        )
        pulls = Counter()
        for feature in _stream(text, domain):
            vector = self.weights.get(feature)
            if vector is not None:
                pulls[feature_name(feature)] += vector[best] - vector[second]
        top = heapq.nlargest(TOP_FEATURES, pulls.items(), key=lambda entry: entry[1])
        return tuple(name for name, pull in top if pull > 0)

    def nearest(self, text: str, theme: str, count: int = NEAREST) -> tuple[Example, ...]:
        """The `count` examples of `theme` most like `text`: the stems they share, over the
        square root of the example's own (else the longest examples are nearest to all)."""
        index, sizes = self._neighbours
        postings = index.get(theme, {})
        shared = Counter()
        for word in set(content_stems(text)):
            shared.update(postings.get(word, ()))
        ranked = sorted(shared, key=lambda n: (-shared[n] / sizes[n], n))
        return tuple(self.examples[n] for n in ranked[:count])

    @functools.cached_property
    def _neighbours(self) -> tuple[dict[str, dict[str, list[int]]], list[float]]:
        """For `nearest`: each theme's examples by the stems they contain (theme -> stem ->
        indices in `examples`), and the square root of each example's number of stems."""
        index: dict[str, dict[str, list[int]]] = {}
        sizes = []
        for n, example in enumerate(self.examples):
            words = set(content_stems(example.text))
            postings = index.setdefault(example.theme, {})
            for word in words:
                postings.setdefault(word, []).append(n)
            sizes.append(math.sqrt(len(words) or 1))
        return index, sizes


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
    """One integer for a feature's weights: the sum of each field shifted into place, which is
    the fields side by side, as every field is positive and narrower than _FIELD."""
    if max(map(abs, vector), default=0.0) > _LIMIT:
        vector = [max(-_LIMIT, min(_LIMIT, weight)) for weight in vector]
    fields = map(round, map(operator.mul, vector, repeat(float(_SCALE))))
    shifts = range(_FIELD, _FIELD * (len(vector) + 1), _FIELD)
    return _offsets(len(vector)) + sum(map(operator.lshift, fields, shifts))


@functools.cache
def _offsets(themes: int) -> int:
    """The count field (1) and _OFFSET in every theme's field."""
    return 1 + sum(_OFFSET << (_FIELD * index) for index in range(1, themes + 1))


def _unpack(total: int, bias: Sequence[float]) -> list[float]:
    """The per-theme sums of the packed weight vectors whose sum is `total`."""
    offsets = (total & _MASK) * _OFFSET
    shifts = range(_FIELD, _FIELD * (len(bias) + 1), _FIELD)
    return [
        b + (((total >> shift) & _MASK) - offsets) / _SCALE
        for b, shift in zip(bias, shifts, strict=True)
    ]


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
