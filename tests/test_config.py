from pathlib import Path

import pytest

from digest.config import Config, load_config, settings
from digest.errors import ConfigError
from tests.samples import config_text

ROOT = Path(__file__).parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return [p.replace(f"{path}:", "feeds.yaml:") for p in caught.value.problems]


def test_valid_config_becomes_frozen_dataclasses(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        config_text(
            [("Partner", "https://partner.example/feed")],
            fetch="  concurrency: 4\n  total_timeout: 12\n",
        )
    )
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.feeds[0].url == "https://partner.example/feed"
    assert config.feeds[0].enabled is True
    assert config.fetch.concurrency == 4 and config.fetch.total_timeout == 12.0
    assert config.fetch.max_bytes == 5_000_000  # default
    assert config.db_path() == tmp_path / "state.db"
    assert "+https://community.example" in config.user_agent()
    with pytest.raises(AttributeError):
        config.feeds = ()


@pytest.mark.parametrize("shipped", ["feeds.yaml", "examples/demo/feeds.yaml"])
def test_shipped_configs_are_valid(shipped):
    config = load_config(ROOT / shipped)
    assert len(config.themes) >= 5
    assert sum(feed.enabled for feed in config.feeds) >= 5


def test_every_problem_is_reported_at_once_with_line_and_key(tmp_path):
    found = problems(
        tmp_path,
        """newsletter:
  titel: X
  website: notaurl
  sender: digest@community.example
  window_days: -1
  timezone: Mars/Olympus
themes:
  - name: Health
feeds:
  - name: A
    url: ftp://partner.example/feed
    enabled: maybe
fetch:
  concurency: 3
""",
    )
    assert found == [
        "feeds.yaml:2: newsletter.titel: unknown key (did you mean 'title'?)",
        "feeds.yaml:2: newsletter.title: missing (it is required)",
        "feeds.yaml:3: newsletter.website: 'notaurl' is not valid (expected an http(s):// URL)",
        "feeds.yaml:5: newsletter.window_days: -1 is not valid (expected a number above 0)",
        "feeds.yaml:6: newsletter.timezone: 'Mars/Olympus' is not valid "
        "(expected an IANA time zone such as Europe/London)",
        "feeds.yaml:11: feeds[0].url: 'ftp://partner.example/feed' is not valid "
        "(expected an http(s):// URL, a file: URL or a local path)",
        "feeds.yaml:12: feeds[0].enabled: 'maybe' is not true or false",
        "feeds.yaml:14: fetch.concurency: unknown key (did you mean 'concurrency'?)",
    ]


def test_cross_checks_duplicates_and_undeclared_theme(tmp_path):
    text = config_text(
        [("A", "https://partner.example/feed"), ("B", "https://PARTNER.example/feed/")]
    )
    text = text.replace("  - name: B\n", "  - name: B\n    theme: Helth inequalities\n")
    text = text.replace(
        "  - name: Rapid learning and improvement", "  - name: health  inequalities!"
    )
    found = problems(tmp_path, text)
    assert any("themes[1].name: 'health  inequalities!' is declared twice" in p for p in found)
    assert any("feeds[1].url: 'https://PARTNER.example/feed/' is listed twice" in p for p in found)
    assert any(
        "feeds[1].theme: 'Helth inequalities' is not a declared theme (did you mean "
        "'Health inequalities'?)" in p
        for p in found
    )


def test_local_feed_path_must_exist(tmp_path):
    found = problems(tmp_path, config_text([("Local", "feeds/missing.xml")]))
    assert found == [
        "feeds.yaml:10: feeds[0].url: 'feeds/missing.xml': no such file "
        "(expected a path relative to feeds.yaml, or a URL)"
    ]


def test_local_paths_resolve_beside_the_config(tmp_path):
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_bytes(b"<rss/>")
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([("Local", "feeds/a.xml")]))
    config = load_config(path)
    assert config.locate(config.feeds[0].url) == (tmp_path / "feeds" / "a.xml").as_uri()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "feeds.yaml:1: the file is empty (expected newsletter:, themes:, feeds:)"),
        ("newsletter: [unclosed\n", "feeds.yaml:2: YAML syntax error:"),
        ("- just\n- a list\n", "feeds.yaml:1: (top): expected a mapping of newsletter, themes"),
        ("newsletter:\n  title: T\n  title: U\n", "newsletter.title: appears twice"),
        ("themes: Health\n", "themes: expected a list of a mapping of name, aliases, keywords"),
    ],
)
def test_malformed_files_get_one_clear_line(tmp_path, text, expected):
    assert any(p.startswith(expected) or expected in p for p in problems(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.problems == [f"{tmp_path / 'nope.yaml'}: no such file"]
    assert "--config" in caught.value.hint


@pytest.mark.parametrize(
    "secret",
    [
        "  sendgrid_api_key: abc\n",
        "  reply_to: SG.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbb\n",
    ],
)
def test_secrets_are_rejected_and_never_echoed(tmp_path, secret):
    found = problems(tmp_path, config_text([]).replace("newsletter:\n", "newsletter:\n" + secret))
    line = next(p for p in found if "SENDGRID_API_KEY" in p)
    assert "secrets never go in feeds.yaml" in line
    assert "abc" not in line and "SG.aaaa" not in line


def test_weeknote_needs_exactly_one_source(tmp_path):
    found = problems(tmp_path, config_text([]) + "weeknote:\n  selector: article\n")
    assert any("weeknote: set exactly one of url: or feed:" in p for p in found)


def test_settings_lists_every_key_with_a_description():
    rows = dict(settings())
    assert "fetch.max_bytes" in rows and "feeds[].theme" in rows and "weeknote.selector" in rows
    assert all(description for description in rows.values())


def test_email_settings_are_checked(tmp_path):
    extra = (
        "branding:\n  accent_colour: '#ffdd00'\n  why: 'Hello {name}'\nemail:\n  templates: mine\n"
    )
    text = config_text([], extra=extra).replace(
        "  sender: Test", "  subject: '{title} {when}'\n  sender: Test"
    )
    assert problems(tmp_path, text) == [
        "feeds.yaml:4: newsletter.subject: '{title} {when}' has a bad placeholder ('when'; "
        "expected {title}, {date}, {top_theme}, {issue})",
        "feeds.yaml:14: branding.accent_colour: '#ffdd00' has 1.3:1 contrast with white "
        "(expected at least 4.5:1: white text sits on it, and it colours links; pick a darker one)",
        "feeds.yaml:15: branding.why: 'Hello {name}' has a bad placeholder ('name'; expected "
        "{title})",
        "feeds.yaml:17: email.templates: 'mine': no such folder (expected a folder relative to "
        "feeds.yaml)",
    ]
