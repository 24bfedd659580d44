"""`digest init`: a new digest's folder from flags or prompts, never written over an existing
file, and with --offline a folder where `check` and `preview` work at once, without network."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml

from digest.core.config import load_config
from digest.curation.overrides import load_overrides
from digest.ops.init import WEEKNOTE_PLACEHOLDER, overrides_text
from tests.samples import NOW, cli

FLAGS = ("--name", "Northfield digest", "--website", "https://northfield.example")
SENDER = ("--sender", "Northfield <digest@northfield.example>")
WEEKNOTE = ("--weeknote", "https://northfield.example/weeknote")


def init(folder: Path, *args, **kwargs):
    return cli("init", folder, *args, now=NOW, **kwargs)


def uncommented_keys(path: Path) -> list[str]:
    """Lines of a YAML file that set a key without a comment saying what it is."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith("#") and " # " not in line
    ]


def test_flags_write_a_commented_config_that_passes_check(tmp_path):
    folder = tmp_path / "digest"
    result = init(folder, *FLAGS, *SENDER, *WEEKNOTE)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["feeds.yaml", "overrides.yaml"]
    assert uncommented_keys(folder / "feeds.yaml") == []
    checked = cli("check", "-c", folder / "feeds.yaml")
    assert checked.exit_code == 0, checked.output
    config = load_config(folder / "feeds.yaml")
    assert config.newsletter.title == "Northfield digest"
    assert config.newsletter.sender == "Northfield <digest@northfield.example>"
    assert config.weeknote.url == "https://northfield.example/weeknote"
    assert config.sending.transport == "sendgrid" and config.feeds == ()
    theme = config.themes[0]
    assert len(config.themes) >= 5 and theme.aliases and theme.keywords
    steps = result.output[result.output.index("Next steps:") :]
    for command in ("digest check", "digest preview", "digest subscribers add", "digest doctor"):
        assert command in steps
    assert "deploy/" in steps


def test_answers_typed_at_the_prompts_and_a_bad_one_asked_again(tmp_path):
    answers = (
        "Prompted digest\nnot a site\nhttps://prompted.example\nPrompted <d@prompted.example>\n"
    )
    result = init(tmp_path, "--offline", input=answers)
    assert result.exit_code == 0, result.output
    assert "'not a site' is not valid (expected an http(s):// URL)" in result.output
    config = load_config(tmp_path / "feeds.yaml")
    assert config.newsletter.title == "Prompted digest"
    assert config.newsletter.website == "https://prompted.example"
    assert config.newsletter.sender == "Prompted <d@prompted.example>"


def test_a_sender_without_a_display_name_is_asked_again(tmp_path):
    answers = "Named digest\nhttps://named.example\ndigest@named.example\nNamed <d@named.example>\n"
    result = init(tmp_path, "--offline", input=answers)
    assert result.exit_code == 0, result.output
    assert (
        "'digest@named.example' is not valid (expected a name and an address, 'Name <…>')"
    ) in result.output
    assert load_config(tmp_path / "feeds.yaml").newsletter.sender == "Named <d@named.example>"
    bare = init(tmp_path / "bare", *FLAGS, "--sender", "digest@northfield.example")
    assert bare.exit_code == 2 and "expected a name and an address" in bare.output
    assert not (tmp_path / "bare").exists()


def test_the_archive_url_is_asked_for_or_derived_and_the_site_publishing_is_said(tmp_path):
    derived = init(tmp_path / "a", *FLAGS, *SENDER, *WEEKNOTE)
    assert derived.exit_code == 0, derived.output
    config = load_config(tmp_path / "a" / "feeds.yaml")
    assert config.email.archive_url == "https://northfield.example/digest/"
    assert (
        "the web archive's address: https://northfield.example/digest/ (from --website; "
        "--archive-url, or feeds.yaml, to change)"
    ) in derived.output
    step = next(line for line in derived.output.splitlines() if "digest send --publish" in line)
    assert "copy that folder to https://northfield.example/digest/ (any static web host" in step
    given = ("--archive-url", "https://news.northfield.example/")
    chosen = init(tmp_path / "b", *FLAGS, *SENDER, *WEEKNOTE, *given)
    assert chosen.exit_code == 0, chosen.output
    assert "(from --website" not in chosen.output
    config = load_config(tmp_path / "b" / "feeds.yaml")
    assert config.email.archive_url == "https://news.northfield.example/"
    checked = cli("check", "-c", tmp_path / "b" / "feeds.yaml")
    assert checked.exit_code == 0 and "display name" not in checked.output


def test_quotes_and_colons_in_answers_stay_text(tmp_path):
    name = ("--name", 'The "Weekly": #1')
    result = init(tmp_path, *name, "--website", "https://x.example", *SENDER, *WEEKNOTE)
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "feeds.yaml").newsletter.title == 'The "Weekly": #1'


def test_nothing_that_exists_is_written_over(tmp_path):
    (tmp_path / "overrides.yaml").write_text("# the editor's own\n", encoding="utf-8")
    result = init(tmp_path, *FLAGS, *SENDER, "--offline")
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'overrides.yaml'} already exists; digest init wrote nothing" in (
        result.output
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overrides.yaml"]
    assert (tmp_path / "overrides.yaml").read_text(encoding="utf-8") == "# the editor's own\n"


def test_a_folder_it_would_copy_into_counts_as_existing(tmp_path):
    (tmp_path / "templates").mkdir()
    result = init(tmp_path, *FLAGS, *SENDER, "--templates")
    assert result.exit_code == 1 and "templates already exists" in result.output
    assert not (tmp_path / "feeds.yaml").exists()


def test_templates_are_copied_and_the_config_points_at_them(tmp_path):
    result = init(tmp_path, *FLAGS, *SENDER, *WEEKNOTE, "--templates")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "templates" / "digest.mjml.j2").is_file()
    assert (tmp_path / "templates" / "partials").is_dir()
    assert load_config(tmp_path / "feeds.yaml").email.templates == "templates"
    assert cli("check", "-c", tmp_path / "feeds.yaml").exit_code == 0


def test_without_a_weeknote_url_check_points_at_the_placeholder(tmp_path):
    assert init(tmp_path, *FLAGS, *SENDER).exit_code == 0
    checked = cli("check", "-c", tmp_path / "feeds.yaml")
    assert checked.exit_code == 2
    assert f"weeknote.url: '{WEEKNOTE_PLACEHOLDER}': no such file" in checked.output


def test_offline_then_check_then_preview_work_without_network(tmp_path):
    folder = tmp_path / "new"
    created = init(folder, *FLAGS, *SENDER, "--offline")
    assert created.exit_code == 0, created.output
    assert (folder / "weeknote.html").is_file() and len(list((folder / "feeds").iterdir())) == 5
    assert uncommented_keys(folder / "feeds.yaml") == []
    config = load_config(folder / "feeds.yaml")
    assert config.sending.transport == "outbox" and not config.links.before_send
    assert all(not feed.url.startswith("http") for feed in config.feeds)
    assert cli("check", "-c", folder / "feeds.yaml").exit_code == 0
    previewed = cli("preview", "-c", folder / "feeds.yaml", now=NOW)
    assert previewed.exit_code == 0, previewed.output
    html = (folder / "preview" / "issue.html").read_text(encoding="utf-8")
    assert "Northfield digest" in html and "Rapid learning and improvement" in html
    db = sqlite3.connect(folder / "digest.db")
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] > 10


def test_the_overrides_example_is_for_this_week_and_changes_nothing(tmp_path):
    assert init(tmp_path, *FLAGS, *SENDER, *WEEKNOTE).exit_code == 0
    text = (tmp_path / "overrides.yaml").read_text(encoding="utf-8")
    assert text == overrides_text("2026-W48")
    config = load_config(tmp_path / "feeds.yaml")
    assert load_overrides(tmp_path / "overrides.yaml", "2026-W48", config).items == ()
    # Uncommented, the example is a valid entry for this week.
    entry = "\n".join(line.removeprefix("# ") for line in text.splitlines() if "2026-W48:" in line)
    example = [line[2:] for line in text.splitlines() if line.startswith("#   ")]
    uncommented = tmp_path / "uncommented.yaml"
    uncommented.write_text(entry.split("#")[0] + "\n" + "\n".join(example) + "\n")
    assert yaml.safe_load(uncommented.read_text())["2026-W48"]["items"][1]["drop"] is True
    overrides = load_overrides(uncommented, "2026-W48", config)
    assert overrides.intro == "A shorter week, but a busy one." and len(overrides.items) == 2
