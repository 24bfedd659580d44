"""A small, explainable theme classifier, learnt from links an editor has already themed.

Every weeknote files its links under the editor's headings, so each week adds labelled examples
(digest/curation/examples.py). The classifier learns from them and from the configured themes
themselves: each theme's name, aliases and keywords are seed examples, so it works (less well)
before any weeknote was learnt. What it sees of a link is digest.curation.features': stems,
pairs of neighbouring stems, the words of the link's host and path, and the marks of a date.

The model: a linear SVM per theme against the others, over each link's distinct features
weighted by their inverse document frequency and scaled to length 1, the themes weighed alike
however many examples each has (digest.curation.trainers, in pure Python). Measured by
leave-one-page-out over the weeknote fixtures (tests/test_classify_fixtures.py; 203 links from
15 pages), never abstaining: 86% in their section's theme, against 83% for complement naive
Bayes, 81% for multinomial naive Bayes and 75% for an averaged perceptron on the same features;
on a real link newsletter (bench/newsletter_bench.py), with 5% to the catch-all, 64% against
complement naive Bayes' 57%, ahead of scikit-learn's TF-IDF with a logistic regression (by 11.5
points) or with a linear SVM. The other methods stay selectable (`digest themes evaluate
--method`).

Classifying is a handful of passes in C per item: the stems come from a per-word cache, every
feature is one dict lookup returning a weight per theme packed in one integer, and the scores
are unpacked from their sum. The packed weights are what the state keeps between builds
(digest.curation.model_cache). The explanation (the features that favoured the chosen theme over
the runner-up most, and the examples of that theme most like the text) is worked out only by a
classifier trained to explain (`digest build --explain`).

Below `threshold` the classifier abstains, and the caller falls back to keywords, the feed's
default theme and the catch-all (digest/curation/themes.py). The threshold is calibrated by
cross-validation to send a chosen share of links to the catch-all (digest.curation.evaluate).
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise, repeat

from digest.core.settings import Theme
from digest.core.text import excerpt, normalise_heading
from digest.curation.features import (
    MONTHS,
    PAIR_WORDS,
    Feature,
    feature_name,
    feature_stream,
    features,
    link_words,
)
from digest.curation.trainers import NORMALISED, TRAINERS
from digest.curation.words import content_stems, without_stop_words

METHOD = "svm"  # what builds use (the module's docstring says why)
# An SVM's scores are distances from its margins, not log-probabilities: times this, a softmax
# over them says how sure it is. As what ranks the links to leave to the catch-all, it did as
# well as the margin between the first two on the weeknote fixtures and half a point better on
# the newsletter the README measures; 2 and 10 did as well as 5, within two links.
MARGIN_SCALE = 5.0
# The threshold until one is calibrated: below it no theme holds even a third of the
# probability, a near guess among six to eight themes.
THRESHOLD = 0.35
# Before this many labelled links (a weeknote or two) the classifier knows only the seeds, which
# is what keywords already say, so builds leave it out until then (digest/pipeline.py).
MIN_EXAMPLES = 20
# An editor's keyword or alias counts as much as six words of examples: 3 and 10 did as well on
# the fixtures, and it is outweighed soon enough as labelled examples accumulate.
SEED_WEIGHT = 6.0
TOP_FEATURES = 3
NEAREST = 2  # examples named by an explanation


@dataclass(frozen=True)
class Example:
    """A labelled link: its theme, its title (the words a feed item would carry), the context
    the editor or its page gave it (a blurb, the page's title and description) and its URL."""

    theme: str
    title: str
    context: str = ""
    url: str = ""  # a URL, or a bare host
    issue: str | None = None  # the page or issue it came from; cross-validation holds it out

    @property
    def text(self) -> str:
        return f"{self.title} {self.context}" if self.context else self.title


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
    packed: dict[Feature, int] = field(repr=False)  # feature -> its weights (_pack)
    threshold: float = THRESHOLD
    method: str = METHOD
    # Only a classifier trained to explain keeps the weights unpacked and its examples.
    weights: dict[Feature, tuple[float, ...]] | None = field(default=None, repr=False)
    examples: tuple[Example, ...] = field(default=(), repr=False)
    number: int = field(init=False, repr=False, compare=False)  # "#number", packed

    def __post_init__(self) -> None:
        self.number = self.packed.get("#number", 0)

    @property
    def explain(self) -> bool:
        return self.weights is not None

    @classmethod
    def train(
        cls,
        examples: Iterable[Example],
        themes: Sequence[Theme],
        method: str = METHOD,
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
        packed = _pack_all(weights, fold_months=method not in NORMALISED)
        if not explain:
            return cls(names, bias, packed, threshold, method)
        kept = tuple(replace(e, theme=by_key[normalise_heading(e.theme)]) for e in labelled)
        return cls(names, bias, packed, threshold, method, weights, kept)

    def classify(self, text: str, link: str = "", stemmed: list[str] | None = None) -> Prediction:
        """The theme of a link (`link`: its URL or host) and how sure; why, too, when trained
        to explain. `stemmed` is `stems(text)` when the caller has it already.

        A normalised model (the SVM) counts each distinct feature once, as it learnt; the
        others count each occurrence (training damps repeats, classifying need not: it measured
        the same on the fixtures, and saves counting every item's features)."""
        words = content_stems(text) if stemmed is None else without_stop_words(stemmed)
        normalised = self.method in NORMALISED
        if normalised:
            total = sum(
                filter(None, map(self.packed.get, set(feature_stream(words, link_words(link)))))
            )
        else:
            total = self._total(words, link_words(link))
        if not total or not self.themes:  # nothing known to go on
            return Prediction(None, None, 0.0, 0.0, () if self.explain else None)
        scores = self._normalised_scores(total) if normalised else _unpack(total, self.bias)
        top = max(scores)
        best = scores.index(top)  # the first of a tie
        # The posterior of `best`: 1 / the sum of exp(score - top) over every theme.
        confidence = 1.0 / sum(map(math.exp, map(operator.sub, scores, repeat(top))))
        theme = self.themes[best]
        chosen = theme if confidence >= self.threshold else None
        margin = top - max(scores[:best] + scores[best + 1 :], default=top)
        if not self.explain:
            return Prediction(chosen, theme, confidence, margin)
        drove = self._top_features(words, link, best, scores)
        return Prediction(chosen, theme, confidence, margin, drove, self.nearest(text, theme))

    def _total(self, words: list[str], linked: list[str]) -> int:
        """The packed sum of the features of `words` and the link's words, the same as summing
        over features.feature_stream, in fewer steps: unknown features (most pairs) are dropped
        before the sum, which allocates a new integer at every step; "#month" is folded into
        the month stems' weights; "#number" is counted only when a word has a character that is
        not a letter."""
        get = self.packed.get
        total = (
            sum(filter(None, map(get, words)))
            + sum(filter(None, map(get, pairwise(words[:PAIR_WORDS]))))
            + sum(filter(None, map(get, linked)))
        )
        words_and_link = words + linked
        if self.number and not "".join(words_and_link).isalpha():
            total += self.number * sum(map(str.isdigit, words_and_link))
        return total

    def _normalised_scores(self, total: int) -> list[float]:
        """A normalised model's scores, MARGIN_SCALE times its margins: the sums of the distinct
        features' weights over the square root of the last sum, plus the bias."""
        *sums, length = _unpack(total, (0.0,) * (len(self.bias) + 1))
        root = math.sqrt(length) if length > 0 else 1.0
        return [MARGIN_SCALE * (b + s / root) for b, s in zip(self.bias, sums, strict=True)]

    def _top_features(
        self, words: list[str], link: str, best: int, scores: list[float]
    ) -> tuple[str, ...]:
        """The features that most favour the best theme over the runner-up, strongest first."""
        second = max(
            (n for n in range(len(scores)) if n != best), key=scores.__getitem__, default=best
        )
        pulls = Counter()
        for feature in feature_stream(words, link_words(link)):
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

    def to_json(self) -> str:
        """The classifier as the state keeps it: themes, bias, threshold and packed weights
        (a pair of stems as a two-item list). What explains is not kept: --explain trains."""
        packed = [[f if isinstance(f, str) else list(f), w] for f, w in self.packed.items()]
        return json.dumps(
            {
                "themes": self.themes,
                "bias": self.bias,
                "threshold": self.threshold,
                "method": self.method,
                "packed": packed,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Classifier:
        data = json.loads(text)
        packed = {f if isinstance(f, str) else tuple(f): w for f, w in data["packed"]}
        themes, bias = tuple(data["themes"]), tuple(data["bias"])
        return cls(themes, bias, packed, data["threshold"], data["method"])


def _damped(example: Example) -> dict[Feature, float]:
    """An example's features, each counted log(1 + count) times."""
    counts = Counter(features(example.text, example.url))
    return dict(zip(counts, map(math.log1p, counts.values()), strict=True))


# An item's scores are sums over its features of a weight per theme. Each feature's weights
# are packed into one integer, in fixed point, a field of _FIELD bits per theme above a field
# that counts the feature, so scoring an item is one C-level sum of integers (an unknown feature
# adds 0), unpacked once: a third of the time of summing tuples column by column. Weights are
# kept within ±_LIMIT (complement naive Bayes' stay within ±20, the SVM's times their idf
# within ±20 on Emacs News' 2,400 examples, and a squared idf is within it up to 57,000
# examples; beyond, the rarest features would count as a little less rare), and a field holds
# the sum of 2**17 features before it could spill into the next.
_SCALE = 1 << 23  # resolution 1.2e-7: far finer than any difference that decides a theme
_LIMIT = 127.0
_OFFSET = 1 << 30  # added to every weight, so each field is positive: above _LIMIT * _SCALE
_FIELD = 48
_MASK = (1 << _FIELD) - 1


def _pack_all(weights: dict[Feature, Sequence[float]], fold_months: bool) -> dict[Feature, int]:
    """Every feature's weights packed; with `fold_months`, "#month" folded into each month
    word's, as each occurrence of a month word counts "#month" too."""
    packed = {feature: _pack(vector) for feature, vector in weights.items()}
    month = packed.pop("#month", 0) if fold_months else 0
    if month:
        for word in MONTHS:
            packed[word] = packed.get(word, 0) + month
    return packed


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
