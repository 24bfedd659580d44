from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.core.config import load_config
from digest.core.errors import ConfigError
from digest.core.settings import Config, settings
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
        ("newsletter: [unclosed\n", "feeds.yaml:1: the [ opened here is never closed properly"),
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
        "expected {lead}, {title}, {date}, {top_theme}, {issue})",
        "feeds.yaml:14: branding.accent_colour: '#ffdd00' has 1.3:1 contrast with white "
        "(expected at least 4.5:1: white text sits on it, and it colours links; pick a darker one)",
        "feeds.yaml:15: branding.why: 'Hello {name}' has a bad placeholder ('name'; expected "
        "{title})",
        "feeds.yaml:17: email.templates: 'mine': no such folder (expected a folder relative to "
        "feeds.yaml)",
    ]


# Structural problems (unknown keys, bad values, a broken entry) beside cross-key ones (a
# duplicate, an undeclared theme, a missing file, a bad placeholder): one run reports them all.
BROKEN_EVERYWHERE = """\
newsletter:
  title: Test digest
  website: https://community.example
  sender: Test <digest@community.example>
  subject: '{title} {when}'
newsleter:
  title: Typo
themes:
  - name: Health inequalities
    colour: red
  - name: Video consultations
  - name: health inequalities
feeds:
  - nmae: A
    url: https://partner.example/feed
    theme: Helth inequalities
  - name: B
    url: https://PARTNER.example/feed/
    enabled: maybe
  - name: C
    url: feeds/missing.xml
    theme: Video consultations
branding:
  accent_colour: '#ffdd00'
weeknote:
  selector: article
state:
  db: state.db
"""

EVERY_PROBLEM = [
    "feeds.yaml:5: newsletter.subject: '{title} {when}' has a bad placeholder ('when'; "
    "expected {lead}, {title}, {date}, {top_theme}, {issue})",
    "feeds.yaml:6: newsleter: unknown key (did you mean 'newsletter'?)",
    "feeds.yaml:10: themes[0].colour: 'red' is not valid (expected a colour like '#1d70b8')",
    "feeds.yaml:12: themes[2].name: 'health inequalities' is declared twice "
    "(expected unique names; first at themes[0])",
    "feeds.yaml:14: feeds[0].nmae: unknown key (did you mean 'name'?)",
    "feeds.yaml:14: feeds[0].name: missing (it is required)",
    "feeds.yaml:16: feeds[0].theme: 'Helth inequalities' is not a declared theme "
    "(did you mean 'Health inequalities'?)",
    "feeds.yaml:18: feeds[1].url: 'https://PARTNER.example/feed/' is listed twice "
    "(expected each feed once; first at feeds[0])",
    "feeds.yaml:19: feeds[1].enabled: 'maybe' is not true or false",
    "feeds.yaml:21: feeds[2].url: 'feeds/missing.xml': no such file "
    "(expected a path relative to feeds.yaml, or a URL)",
    "feeds.yaml:24: branding.accent_colour: '#ffdd00' has 1.3:1 contrast with white "
    "(expected at least 4.5:1: white text sits on it, and it colours links; pick a darker one)",
    "feeds.yaml:26: weeknote: set exactly one of url: or feed: (expected a page URL, "
    "or a feed plus title_pattern:/category:)",
]


def test_structural_and_cross_key_problems_are_reported_in_one_run(tmp_path):
    assert problems(tmp_path, BROKEN_EVERYWHERE) == EVERY_PROBLEM


def test_digest_check_lists_every_problem_in_line_order(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(BROKEN_EVERYWHERE, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 2
    *listed, error, hint = result.output.replace(f"{path}:", "feeds.yaml:").splitlines()
    assert listed == EVERY_PROBLEM
    assert error == f"Error: feeds.yaml: {len(EVERY_PROBLEM)} problems"
    assert hint.startswith("Hint: ")


# Two feeds share a URL, so the cross-checks must report that whatever else is broken.
DUPLICATE_FEEDS = """\
feeds:
  - name: A
    url: https://partner.example/feed
    theme: Health inequalities
  - name: B
    url: https://partner.example/feed
state:
  db: state.db
"""
NEWSLETTER = """\
newsletter:
  title: Test digest
  website: https://community.example
  sender: Test <digest@community.example>
"""
THEMES = "themes:\n  - name: Health inequalities\n"


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            NEWSLETTER + "themes: Health inequalities\n",
            ["13: themes: expected a list of a mapping of name, aliases, keywords, colour, emoji"],
        ),
        (
            NEWSLETTER + "themes:\n  - nmae: Health inequalities\n",
            [
                "14: themes[0].nmae: unknown key (did you mean 'name'?)",
                "14: themes[0].name: missing (it is required)",
            ],
        ),
        (NEWSLETTER + THEMES + "weeknote:\n  url: [a, b]\n", ["16: weeknote.url: expected text"]),
        (
            "newsletter: Test digest\n" + THEMES,
            [
                "9: newsletter: expected a mapping of title, website, sender, reply_to, subject, "
                "subscribe_url, timezone, window_days, catch_all"
            ],
        ),
    ],
)
def test_a_broken_part_neither_stops_nor_misleads_the_cross_checks(tmp_path, broken, expected):
    # Broken themes must not make the feed's theme "undeclared", nor a broken weeknote.url a
    # missing one; the duplicate feed is still found.
    duplicate = (
        "6: feeds[1].url: 'https://partner.example/feed' is listed twice "
        "(expected each feed once; first at feeds[0])"
    )
    found = problems(tmp_path, DUPLICATE_FEEDS + broken)
    assert found == [f"feeds.yaml:{line}" for line in [duplicate, *expected]]


MISSING_COLON = """\
newsletter:
  title: Test digest
  sender: Test <digest@community.example>
  timezone: Europe/London
  window_days: 7
  website https://x.example
themes:
  - name: Health
"""


VALID = config_text([])
COLON = "this line is not a 'key: value' pair (is a colon missing?)"
QUOTE = "the quote opened here is never closed (expected a closing {} on the same line)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(MISSING_COLON, f"6: {COLON}", id="missing colon"),
        pytest.param(
            MISSING_COLON.replace("x.example", "x.example   # the site"),
            f"6: {COLON}",
            id="missing colon before a comment",
        ),
        pytest.param(
            MISSING_COLON.replace("  website https://x.example", "  website"),
            f"6: {COLON}",
            id="a lone word",
        ),
        pytest.param(
            "themes:\n  - name Health\n    aliases: [Equity]\n",
            f"2: {COLON}",
            id="missing colon in a list item",
        ),
        pytest.param(
            VALID.replace("title: Test digest", 'title: "Test digest'),
            "2: " + QUOTE.format('"'),
            id="unclosed quote",
        ),
        pytest.param(
            VALID.replace("title: Test digest", 'title: "Test digest')
            + 'branding:\n  footer_text: Say "hi"\n',
            "2: " + QUOTE.format('"'),
            id="unclosed quote closed by a later opening quote",
        ),
        pytest.param(
            # The file parses: the value swallows every line up to Bye", and those keys
            # would be reported missing.
            VALID.replace("title: Test digest", 'title: "Test digest')
            + 'branding:\n  footer_text: Bye"\n',
            "2: " + QUOTE.format('"'),
            id="unclosed quote that parses",
        ),
        pytest.param(
            VALID.replace("title: Test digest", "title: 'Test digest")
            + "branding:\n  footer_text: 'A'\n",
            "2: " + QUOTE.format("'"),
            id="unclosed single quote",
        ),
        pytest.param(
            VALID.replace("Health inequalities", "'Health's inequalities'"),
            "6: there is text after the closing quote (quote the whole value; inside '…' "
            "write an apostrophe as '')",
            id="apostrophe inside single quotes",
        ),
        pytest.param(
            VALID.replace("  website:", "\twebsite:"),
            "3: this line has a tab where YAML allows only spaces (use spaces)",
            id="tab",
        ),
        pytest.param(
            VALID.replace("  website:", "   website:"),
            "3: this key is indented more than the key above it "
            "(expected it to line up with its sibling keys)",
            id="key indented too far",
        ),
        pytest.param(
            VALID.replace("  - name: Rapid", " - name: Rapid"),
            "7: this line is indented unlike the lines above it "
            "(expected it to line up with its sibling keys or list items)",
            id="list item indented unlike its siblings",
        ),
        pytest.param(
            VALID.replace("title: Test digest", "title: Note: a test"),
            "2: this value contains ': ' (expected the whole value in quotes)",
            id="a second colon",
        ),
        pytest.param(
            VALID + "branding:\n  why: a\x07b\n",
            "13: this line has a control character YAML does not allow (#x07; remove it)",
            id="control character",
        ),
        pytest.param(
            VALID.replace("title: Test digest", "title: `Test` digest"),
            "2: a value cannot start with ` (expected the whole value in quotes)",
            id="reserved first character",
        ),
        pytest.param(
            " " + VALID,
            "1: the file's first line is indented more than the lines after it "
            "(expected top-level keys at the start of the line)",
            id="indented first line",
        ),
        pytest.param(
            "a: *nowhere\n",
            "1: this line is not valid YAML (found undefined alias 'nowhere')",
            id="anything else: PyYAML's words",
        ),
    ],
)
def test_a_yaml_mistake_is_one_plain_sentence_at_its_line(tmp_path, text, expected):
    (found,) = problems(tmp_path, text)
    assert found == f"feeds.yaml:{expected}"
    assert not any(word in found for word in ("scanning", "simple key", "<", "block end"))


def test_digest_check_names_the_line_without_a_colon(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(MISSING_COLON, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 2
    assert result.output.splitlines()[:2] == [
        f"{path}:6: this line is not a 'key: value' pair (is a colon missing?)",
        f"Error: {path}: 1 problem",
    ]
    assert "could not find expected" not in result.output


# Problems that used to hide one another until the first was fixed (issue 25): a bad value
# beside the weeknote's url/feed conflict, a misspelt weeknote key beside it, and a theme with
# no name beside a feed's undeclared theme.
HIDING_EACH_OTHER = """\
newsletter:
  title: Test digest
  website: https://community.example
  sender: Test <digest@community.example>
themes:
  - name: Health inequalities
  - aliases: [Video]
feeds:
  - name: A
    url: https://partner.example/feed
    theme: Helth inequalities
weeknote:
  url: https://community.example/weeknote
  feed: https://community.example/feed
  title_pattern: '(unclosed'
  selectr: article
"""


def test_problems_that_hid_each_other_are_reported_in_one_run(tmp_path):
    assert problems(tmp_path, HIDING_EACH_OTHER) == [
        "feeds.yaml:7: themes[1].name: missing (it is required)",
        "feeds.yaml:11: feeds[0].theme: 'Helth inequalities' is not a declared theme "
        "(did you mean 'Health inequalities'?)",
        "feeds.yaml:13: weeknote: set exactly one of url: or feed: (expected a page URL, "
        "or a feed plus title_pattern:/category:)",
        "feeds.yaml:15: weeknote.title_pattern: '(unclosed' is not valid (expected a valid "
        "regular expression (missing ), unterminated subpattern at position 0))",
        "feeds.yaml:16: weeknote.selectr: unknown key (did you mean 'selector'?)",
    ]


@pytest.mark.parametrize(
    ("weeknote", "conflict"),
    [
        (
            "  ulr: https://community.example/weeknote\n  feed: https://community.example/feed\n",
            True,
        ),
        ("  ulr: https://community.example/weeknote\n", False),  # right once the typo is
        ("  url: [a, b]\n  feed: https://community.example/feed\n", False),  # url could be empty
        ("  titel_pattern: Weeknote\n", True),
    ],
)
def test_the_weeknote_conflict_is_judged_on_the_keys_as_meant(tmp_path, weeknote, conflict):
    found = problems(tmp_path, config_text([]) + "weeknote:\n" + weeknote)
    assert any("weeknote: set exactly one of url: or feed:" in p for p in found) is conflict
    assert len(found) == 1 + conflict


@pytest.mark.parametrize("budget", [19_999, 102_001])
def test_the_size_budget_lies_under_gmails_clip(tmp_path, budget):
    found = problems(tmp_path, config_text([], extra=f"email:\n  size_budget: {budget}\n"))
    assert found == [
        f"feeds.yaml:13: email.size_budget: {budget} is not valid (expected a number of bytes "
        "from 20,000 to 102,000, where Gmail clips)"
    ]


def test_check_warns_on_a_sender_without_a_display_name(tmp_path):
    path = tmp_path / "feeds.yaml"
    text = config_text([], extra="email:\n  unsubscribe_url: https://community.example/out\n")
    path.write_text(text.replace("Test <digest@community.example>", "digest@community.example"))
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == (
        "warning: newsletter.sender 'digest@community.example' has no display name, so inboxes "
        "show the bare address: write it as 'Test digest <digest@community.example>'"
    )
    path.write_text(text)
    assert "warning" not in CliRunner().invoke(main, ["check", "-c", str(path)]).output
