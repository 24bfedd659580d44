"""Benchmark the theme classifier: learning from 50 weeknotes, classifying 10,000 feed items.

Synthetic but shaped like the real thing: 8 themes with aliases and keywords; 50 weeknotes of
30 links each (1,500 labelled examples: a title and blurb of ~30 words, and a host). Words come
from a seeded generator, each text mixing its theme's words with words all themes share, so the
vocabulary is some thousands of words. Two sets of 10,000 feed items, each a 10-word title and
a summary:

- like real feeds: a summary of 100 to 400 characters, a quarter of the words stop words. The
  1,326 items of 43 real-world feeds (RSS and Atom from many platforms) measured 253 characters
  of title and summary at the median, 408 at the 90th percentile, 42 words of which 31 not
  stop words; these come to about 300 characters and 47 words, 36 of them not stop words;
- the longest: every summary at the 400-character cut (feeds.py's SUMMARY_LIMIT) and no stop
  word, about 470 characters and 67 words that all count, the worst a feed can send.

Each of `--repeat` rounds times, in process:

- learn: `Classifier.train` on the 1,500 examples and the themes' seeds;
- classify: `classify` of every one of the 10,000 items like real feeds;
- longest: `classify` of every one of the 10,000 longest items;
- explain: `classify` and `describe` of every item like real feeds by a classifier trained to
  explain, as `digest build --explain` does (the words that drove it, the nearest examples).

The first round runs with a cold stem cache, the others warm; the medians are printed.

Run from the repository root: `.venv/bin/python bench/classify_bench.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path
from statistics import mean, median

sys.path.insert(0, str(Path(__file__).parent.parent))

from digest.core.settings import Theme
from digest.curation.classify import Classifier, Example

THEMES, WEEKNOTES, LINKS, ITEMS = 8, 50, 30, 10_000
TARGETS = {"learn": 2.0, "classify": 0.5}  # seconds
SYLLABLES = "ka lo mi ne ru sa ti vo be da fe gi ho ju pa re si to".split()  # noqa: SIM905
STOP_WORDS = "the of and to in a for on with is at by from this that our".split()  # noqa: SIM905
STOP_SHARE = 0.25

Items = list[tuple[str, str]]  # (title and summary, host)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size)]


def text(rng, own: list[str], shared: list[str], words: int, stop_share: float = 0.0) -> str:
    return " ".join(
        rng.choice(STOP_WORDS)
        if rng.random() < stop_share
        else rng.choice(own if rng.random() < 0.3 else shared)
        for _ in range(words)
    )


def corpus(seed: int = 48) -> tuple[tuple[Theme, ...], list[Example], Items, Items]:
    """The themes, the labelled examples, items like real feeds' and the longest items."""
    rng = random.Random(seed)
    shared = vocabulary(rng, 3000)
    own = [vocabulary(rng, 150) for _ in range(THEMES)]
    themes = tuple(
        Theme(f"Theme {n}", aliases=(f"{own[n][0]} {own[n][1]}",), keywords=tuple(own[n][2:8]))
        for n in range(THEMES)
    )
    examples = []
    for week in range(WEEKNOTES):
        for _ in range(LINKS):
            n = rng.randrange(THEMES)
            host = f"{rng.choice(shared)}.example"
            examples.append(
                Example(themes[n].name, text(rng, own[n], shared, 30), url=host, issue=f"W{week}")
            )

    def items(stop_share: float, shortest: int) -> Items:
        found = []
        for _ in range(ITEMS):
            n = rng.randrange(THEMES)
            title = text(rng, own[n], shared, 10, stop_share)
            summary = text(rng, own[n], shared, 70, stop_share)[: rng.randint(shortest, 400)]
            found.append((f"{title} {summary}", f"{rng.choice(shared)}.example"))
        return found

    return themes, examples, items(STOP_SHARE, 100), items(0.0, 400)


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def classify_all(classifier: Classifier, items: Items) -> int:
    return sum(classifier.classify(text, host).theme is not None for text, host in items)


def explain_all(classifier: Classifier, items: Items) -> int:
    return sum(len(classifier.classify(text, host).describe()) for text, host in items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()
    themes, examples, items, longest = corpus()
    print(
        f"{len(examples)} examples from {WEEKNOTES} weeknotes, {len(items)} items like real "
        f"feeds (mean {mean(len(t) for t, _ in items):.0f} characters) and {len(longest)} of "
        f"the longest ({mean(len(t) for t, _ in longest):.0f}), {THEMES} themes"
    )
    explaining = Classifier.train(examples, themes, explain=True)
    rounds = []
    for n in range(max(1, args.repeat)):
        classifier, learn_wall, learn_cpu = timed(Classifier.train, examples, themes)
        themed, classify_wall, classify_cpu = timed(classify_all, classifier, items)
        _, longest_wall, longest_cpu = timed(classify_all, classifier, longest)
        _, explain_wall, explain_cpu = timed(explain_all, explaining, items)
        print(
            f"  round {n + 1}: learn {learn_wall * 1000:5.0f} ms   classify "
            f"{classify_wall * 1000:5.0f} ms   longest {longest_wall * 1000:5.0f} ms   "
            f"explain {explain_wall * 1000:5.0f} ms   ({themed} themed, "
            f"{len(items) - themed} abstained; {len(classifier.packed)} features)"
        )
        rounds.append(
            {
                "learn": (learn_wall, learn_cpu),
                "classify": (classify_wall, classify_cpu),
                "longest": (longest_wall, longest_cpu),
                "explain": (explain_wall, explain_cpu),
            }
        )
    print(f"\nmedians of {len(rounds)} on {platform.machine()}, Python {platform.python_version()}")
    for step in rounds[0]:
        wall = median(r[step][0] for r in rounds)
        cpu = median(r[step][1] for r in rounds)
        target = TARGETS.get(step)
        verdict = (
            "no target"
            if target is None
            else f"target <= {target:g} s: " + ("met" if wall <= target else "MISSED")
        )
        print(f"  {step:8} wall {wall * 1000:6.0f} ms   cpu {cpu * 1000:6.0f} ms   ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
