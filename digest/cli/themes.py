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
@config_option
@db_option
def learn(pages: tuple[str, ...], backfill: int | None, config_path, db_path) -> None:
    """Store the links of weeknote PAGES (URLs or files) as labelled examples: each link under
    a heading that names a theme is an example of that theme.

    Exit status: 0 learnt, 3 some pages could not be read or taught nothing, 1 none could."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation import examples

    if not pages and backfill is None:
        raise DigestError("nothing to learn from", "name weeknote pages, or use --backfill N")
    config = load_config(config_path)
    now = world().now()
    with Store.open(db_path or config.db_path()) as store:
        lessons = examples.learn_pages(config, store, pages, now) if pages else []
        if backfill:
            lessons += examples.backfill(config, store, backfill, now)
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
    type=click.Choice(["cnb", "nb", "perceptron"]),
    default="cnb",
    show_default=True,
    help="The classifier to evaluate: complement or multinomial naive Bayes, or a perceptron.",
)
@config_option
@db_option
@json_option
def evaluate(method: str, config_path: str, db_path: str | None, as_json: bool) -> None:
    """Leave-one-issue-out cross-validation over the stored examples: per-theme precision and
    recall, overall accuracy, the share sent to the catch-all, and a confusion table."""
    from digest.core.config import load_config
    from digest.core.store import Store
    from digest.curation.evaluate import cross_validate, report_lines
    from digest.curation.examples import load_examples

    config = load_config(config_path)
    with Store.open(db_path or config.db_path(), create=False) as store:
        labelled = load_examples(store)
    if not labelled:
        raise DigestError("no labelled examples stored", "run digest themes learn first")
    evaluation = cross_validate(labelled, config.themes, method)
    names = [theme.name for theme in config.themes]
    if as_json:
        click.echo(json.dumps(evaluation.as_dict(names), indent=2))
        return
    click.echo("\n".join(report_lines(evaluation, names)))
