"""Which commands create a state database that does not exist, and which refuse one: every
command with --db is run against a missing file, and the README's list must be exactly the
commands that created it.

A command that only reads or changes what a state database holds (the subscribers, the
ledger, the issues sent) would otherwise start an empty one at a mistyped --db, say "nothing
to do" and succeed, while the real database was never touched.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest

from digest.cli import main
from digest.delivery.unsubscribe import TokenKeys, make_token
from tests.samples import cli, config_text

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Each run of a command against a missing database: its arguments, and the name the README's
# list of creating commands gives it, or None when it must refuse.
RUNS = [
    (("fetch",), "digest fetch"),
    (("build",), "digest build"),
    (("build", "--offline"), None),
    (("preview",), "digest preview"),
    (("preview", "--offline"), None),
    (("links", "--refresh"), "digest links --refresh"),
    (("links",), None),
    (("send", "--test", "editor@example.org"), "digest send --test"),
    (("send",), None),
    (("send", "--dry-run"), None),
    (("send", "--outbox", "rehearsal"), None),
    (("send", "--resume"), None),
    (("status",), None),
    (("approve",), None),
    (("approve", "--revoke"), None),
    (("cancel", "2026-W48"), None),
    (("archive",), None),
    (("stats", "--offline"), None),
    (("doctor",), None),
    (("subscribers", "add", "ann@example.org"), "digest subscribers add"),
    (("subscribers", "import", "people.csv"), "digest subscribers import"),
    (("subscribers", "remove", "ann@example.org"), None),
    (("subscribers", "list"), None),
    (("subscribers", "count"), None),
    (("subscribers", "export", "backup.csv"), None),
    (("subscribers", "sync"), None),
    (("subscribers", "unsubscribe"), None),
    (("themes", "learn", "weeknote.html"), "digest themes learn"),
    (("themes", "show"), None),
    (("themes", "evaluate"), None),
    (("themes", "forget", "https://partner.example/a"), None),
]
ENVIRONMENT = {
    "SENDGRID_API_KEY": "SG.not-a-real-key",
    "SENDGRID_API_HOST": "http://127.0.0.1:9",  # never reached: the database is refused first
    "DIGEST_UNSUBSCRIBE_SECRET": "a-long-test-secret-0123456789",
    # A valid token of the list (its identity: newsletter.title), so that only the missing
    # database is left to refuse.
    "DIGEST_UNSUBSCRIBE_TOKEN": make_token(
        "ann@example.org", TokenKeys("Test digest", b"a-long-test-secret-0123456789")
    ),
}


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        elif any(param.name == "db_path" for param in command.params):
            yield (*prefix, name)


def command_of(args: tuple[str, ...]) -> tuple[str, ...]:
    return args[:2] if args[0] in ("subscribers", "themes") else args[:1]


def test_every_command_with_a_database_is_run_here():
    assert {command_of(args) for args, _ in RUNS} == set(leaf_commands(main))


@pytest.fixture
def folder(tmp_path) -> Path:
    """feeds.yaml with a local feed, the outbox, an archive and an unsubscribe page; a CSV of
    subscribers and a weeknote page beside it; and no state database."""
    (tmp_path / "feed.xml").write_text(
        '<rss version="2.0"><channel><title>P</title></channel></rss>'
    )
    (tmp_path / "people.csv").write_text("email\nann@example.org\n")
    shutil.copy(ROOT / "examples/demo/weeknote.html", tmp_path / "weeknote.html")
    extra = (
        "email:\n  archive_url: https://community.example/digest\n"
        "  unsubscribe_url: https://community.example/leave\n"
        "sending:\n  transport: outbox\nlinks:\n  before_send: false\n"
    )
    config = config_text([("Partner", "feed.xml")], extra=extra)
    (tmp_path / "feeds.yaml").write_text(config, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("args", "creates"), RUNS, ids=[" ".join(args) for args, _ in RUNS])
def test_a_missing_database_is_created_only_by_the_commands_that_may(folder, args, creates):
    missing = folder / "typo" / "state.db"
    result = cli(*args, "-c", folder / "feeds.yaml", "--db", missing, env=ENVIRONMENT)
    if creates:
        assert missing.exists(), result.output
        assert "no state database" not in result.output
    else:
        assert f"no state database at {missing}" in result.output, result.output
        assert result.exit_code != 0
        assert not missing.exists() and not missing.parent.exists()


def test_the_readme_lists_exactly_the_commands_that_create_a_database():
    sentence = re.search(
        r"Only these create a state database(.*?)Every other command", README, re.S
    )
    listed = set(re.findall(r"`(digest [a-z -]+?)`", " ".join(sentence.group(1).split())))
    assert listed == {name for _, name in RUNS if name}
