"""`digest themes …`: thin commands over digest.curation.examples, digest.curation.classify
and digest.curation.evaluate."""

from __future__ import annotations

import json

import click

from digest.cli.base import EXIT_PARTIAL, config_option, db_option, json_option, world
from digest.core.errors import DigestError


@click.group()
def themes() -> None:
    """Show the themes, learn from weeknotes how the editor themes links, and measure how well
    the classifier does."""


@themes.command()
@config_option
@db_option
@json_option
def show(config_path: str, db_path: str | None, as_json: bool) -> None:
    """Each theme with its aliases, keywords and how many labelled examples it has."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation.examples import example_counts

    config = load_config(config_path)
    with Store.open(db_path or config.db_path(), create=False) as store:
        counts = example_counts(store, config.themes)
    rows = [
        {
            "name": theme.name,
            "aliases": list(theme.aliases),
            "keywords": list(theme.keywords),
            "examples": counts[theme.name],
        }
        for theme in config.themes
    ]
    if as_json:
        click.echo(json.dumps({"themes": rows, "catch_all": config.newsletter.catch_all}, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  ({row['examples']} examples)")
        click.echo(f"  aliases:  {', '.join(row['aliases']) or '-'}")
        click.echo(f"  keywords: {', '.join(row['keywords']) or '-'}")
    click.echo(f"catch-all: {config.newsletter.catch_all}")


@themes.command()
@click.argument("pages", nargs=-1)
@click.option(
    "--backfill",
    type=click.IntRange(min=1),
    help="Also learn from the newest N posts of weeknote.feed that its rule picks.",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Sub-heading levels read under a heading that names no theme (0: none).",
)
@config_option
@db_option
def learn(pages: tuple[str, ...], backfill: int | None, depth: int, config_path, db_path) -> None:
    """Store the links of weeknote PAGES (URLs or files) as labelled examples: each link under
    a heading that names a theme is an example of that theme; under one that names none, of
    the theme its sub-heading names (--depth levels down).

    Exit status: 0 learnt, 3 some pages could not be read or taught nothing, 1 none could."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import examples

    if not pages and backfill is None:
        raise DigestError("nothing to learn from", "name weeknote pages, or use --backfill N")
    config = load_config(config_path)
    now = world().now()
    with Store.open(db_path or config.db_path()) as store:
        lessons = examples.learn_pages(config, store, pages, now, depth=depth) if pages else []
        if backfill:
            lessons += examples.backfill(config, store, backfill, now, depth=depth)
    _show_lessons(lessons)
    failed = sum(lesson.problem is not None for lesson in lessons)
    if failed and failed == len(lessons):
        raise SystemExit(1)
    if failed:
        raise SystemExit(EXIT_PARTIAL)


def _show_lessons(lessons) -> None:
    from collections import Counter

    total: Counter[str] = Counter()
    for lesson in lessons:
        total.update(lesson.gained)
        outcome = lesson.problem or f"{lesson.gained.total()} examples"
        click.echo(f"{lesson.url}: {outcome}")
    for theme, count in sorted(total.items(), key=lambda entry: (-entry[1], entry[0])):
        click.echo(f"  +{count:<4} {theme}")
    click.echo(f"{len(lessons)} pages: {total.total()} examples stored")


@themes.command()
@click.option(
    "--method",
    type=click.Choice(["svm", "cnb", "nb", "perceptron"]),
    default="svm",
    show_default=True,
    help="The classifier to evaluate: a linear SVM (what builds use), complement or "
    "multinomial naive Bayes, or a perceptron.",
)
@click.option(
    "--last",
    type=click.IntRange(min=1),
    help="Hold out the newest N issues and learn from the ones before, as a newsletter grows.",
)
@click.option(
    "--baseline",
    is_flag=True,
    help="Compare with TF-IDF + logistic regression and + a linear SVM (needs digest[eval]).",
)
@config_option
@db_option
@json_option
def evaluate(method, last, baseline, config_path: str, db_path: str | None, as_json: bool) -> None:
    """Cross-validation over the stored examples, each held-out link classified from its title
    and URL as a feed item would be: per-theme precision and recall, overall accuracy, the
    share sent to the catch-all, a confusion table, and the threshold that leaves
    curation.catch_all_share to the catch-all (kept with the model builds use)."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation.examples import load_examples
    from digest.curation.model_cache import assess, assessment_dict, assessment_lines

    config = load_config(config_path)
    share = config.curation.catch_all_share
    with Store.open(db_path or config.db_path(), create=False) as store:
        labelled = load_examples(store)
        if not labelled:
            raise DigestError("no labelled examples stored", "run digest themes learn first")
        found = assess(store, labelled, config.themes, share, world().now(), method, last, baseline)
    names = [theme.name for theme in config.themes]
    if as_json:
        click.echo(json.dumps(assessment_dict(found, names), indent=2))
        return
    click.echo("\n".join(assessment_lines(found, names)))


@themes.command()
@click.argument("urls", nargs=-1)
@click.option("--page", "pages", multiple=True, help="Forget every example learnt from PAGE.")
@config_option
@db_option
def forget(urls: tuple[str, ...], pages: tuple[str, ...], config_path, db_path) -> None:
    """Remove the examples of URLS (any form of the link), or of every link learnt from a
    weeknote --page (its URL or file), so the classifier no longer learns from them.

    Exit status: 0 removed, 1 nothing matched."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation.examples import forget_examples

    if not urls and not pages:
        raise DigestError("nothing to forget", "name example URLs, or --page PAGE")
    config = load_config(config_path)
    with Store.open(db_path or config.db_path(), create=False) as store:
        removed = forget_examples(store, urls, pages)
    click.echo(f"{removed} examples forgotten")
    if not removed:
        raise SystemExit(1)
