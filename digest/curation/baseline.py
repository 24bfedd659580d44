"""The standard baselines `digest themes evaluate --baseline` compares the classifier with: TF-IDF
and a logistic regression, and TF-IDF and a linear SVM, from scikit-learn (the optional `eval`
extra: `pip install 'digest[eval]'`), never a dependency of digest itself.

They are held to the same test as digest's classifier: the same held-out links, the same
training examples (and the themes' names, aliases and keywords as examples), the same words
(stems without stop words, and the link's host and path words) and the same shape of held-out
text, the title alone. They never abstain, so their accuracy is their share right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.core.errors import DigestError
from digest.core.settings import Theme
from digest.core.text import normalise_heading
from digest.curation.classify import Example, seed_examples
from digest.curation.evaluate import issue_groups
from digest.curation.features import link_words
from digest.curation.words import content_stems

NAMES = {"logreg": "TF-IDF + logistic regression", "svm": "TF-IDF + linear SVM"}


@dataclass(frozen=True)
class BaselineScore:
    name: str
    right: int
    links: int

    @property
    def accuracy(self) -> float:
        return self.right / self.links if self.links else 0.0


def baseline_scores(
    examples: Sequence[Example], themes: Sequence[Theme], last: int | None = None
) -> list[BaselineScore]:
    """Each baseline's links right, held out as digest.curation.evaluate.cross_validate holds
    them out (each issue in turn, or the newest `last` issues)."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC
    except ImportError:
        raise DigestError(
            "the baselines need scikit-learn, which digest does not install by itself",
            "pip install 'digest[eval]'",
        ) from None
    models = {
        "logreg": lambda: LogisticRegression(max_iter=2000),
        "svm": lambda: LinearSVC(),
    }
    names = {normalise_heading(theme.name): theme.name for theme in themes}
    labelled = [e for e in examples if normalise_heading(e.theme) in names]
    right = dict.fromkeys(models, 0)
    links = 0
    for train, held in _splits(labelled, last):
        train = [*train, *seed_examples(themes)]
        documents = [_words(e.text, e.url) for e in train]
        labels = [names[normalise_heading(e.theme)] for e in train]
        wanted = [names[normalise_heading(e.theme)] for e in held]
        held_words = [_words(e.title, e.url) for e in held]
        links += len(held)
        for key, model in models.items():
            pipeline = make_pipeline(
                TfidfVectorizer(analyzer=list, sublinear_tf=True), model()
            ).fit(documents, labels)
            right[key] += sum(map(str.__eq__, pipeline.predict(held_words), wanted))
    return [BaselineScore(NAMES[key], right[key], links) for key in models]


def _splits(examples: Sequence[Example], last: int | None):
    groups = list(issue_groups(examples).values())
    if last is not None:
        cut = max(len(groups) - last, 0)
        yield [e for g in groups[:cut] for e in g], [e for g in groups[cut:] for e in g]
        return
    for n, held in enumerate(groups):
        yield [e for m, g in enumerate(groups) if m != n for e in g], held


def _words(text: str, url: str) -> list[str]:
    return content_stems(text) + link_words(url)
