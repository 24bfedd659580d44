"""`digest init`: a new digest's folder, written from the editor's answers.

Pure file generation: the answers come in (the command line asks for them), the files go out,
and nothing that exists is ever written over. The feeds.yaml written has a comment on every key,
like the bundled one, and passes `digest check` as it is, except for the weeknote placeholder
written when no weeknote URL was given: `digest check` names that line until it is filled in.
With `offline`, the sample feeds and weeknote page (the demo's, shipped inside the package) are
copied in and the sends go to the outbox, so `init`, `check` and `preview` work with no network.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from digest.core.errors import DigestError
from digest.core.files import write_file
from digest.core.validators import http_url, named_mailbox

CONFIG_NAME, OVERRIDES_NAME, TEMPLATES_NAME = "feeds.yaml", "overrides.yaml", "templates"
SAMPLE_WEEKNOTE, SAMPLE_FEEDS = "weeknote.html", "feeds"
# Not a path that exists, so `digest check` reports this line ("no such file") until the
# editor writes the weeknote's address there.
WEEKNOTE_PLACEHOLDER = "REPLACE-ME-with-the-URL-of-your-weeknote-page"
TIMEZONE = "Europe/London"  # the new digest's newsletter.timezone, which decides its weeks

# The themes of a typical improvement community's weeknote: (name, aliases, keywords).
THEMES = (
    (
        "Rapid learning and improvement",
        ["Learning and improvement", "Quality improvement"],
        ["learning system", "learning health system", "PDSA", "quality improvement", "run chart"],
    ),
    (
        "Video consultations",
        ["Remote consultations"],
        ["video consultation", "video appointment", "remote consultation", "telehealth"],
    ),
    (
        "Staff health and wellbeing",
        ["Staff wellbeing", "Workforce wellbeing"],
        ["wellbeing", "sickness absence", "peer support", "burnout"],
    ),
    (
        "Health inequalities",
        ["Inequalities", "Health equity"],
        ["inequalities", "deprivation", "digital inclusion", "social prescribing"],
    ),
    (
        "Digital tools",
        ["Digital and data", "Digital health"],
        ["digital", "shared care record", "remote monitoring", "NHS App"],
    ),
    (
        "Events and opportunities",
        ["Events", "Opportunities", "Dates for your diary"],
        ["webinar", "course", "applications are open", "book a place", "grants"],
    ),
)

# The sample feeds (file, name, default theme), as examples/demo/feeds.yaml lists them.
SAMPLE_FEED_LIST = (
    ("improvement-network.xml", "Northfield Improvement Network", THEMES[0][0]),
    ("health-research.atom", "Midlands Centre for Applied Health Research", THEMES[0][0]),
    ("care-quality.rdf", "Eastbrook Care Quality Partnership", THEMES[0][0]),
    ("digital-care.xml", "Westmoor Digital Care Hub", "Digital tools"),
    ("staff-wellbeing.xml", "Healthy Workplaces Hub", "Staff health and wellbeing"),
)


@dataclass(frozen=True)
class Answers:
    name: str  # the newsletter's title
    website: str
    sender: str  # 'Name <address>'
    weeknote: str | None = None  # the weeknote page's URL; None writes the placeholder
    offline: bool = False  # sample feeds and weeknote, sends to the outbox
    templates: bool = False  # a copy of the default templates to edit
    archive_url: str | None = None  # where the web archive will be served; None: derived

    @property
    def archive(self) -> str:
        """email.archive_url: as given, else a digest/ folder of the community's website."""
        return self.archive_url or self.website.rstrip("/") + "/digest/"


@dataclass(frozen=True)
class Created:
    folder: Path
    files: tuple[Path, ...]  # every file written, in the order written
    next_steps: tuple[str, ...]


def check_answers(answers: Answers) -> None:
    """Raise DigestError for an answer feeds.yaml would not accept, before anything is written."""
    for key, value, check in (
        ("--website", answers.website, http_url),
        ("--sender", answers.sender, named_mailbox),
        ("--weeknote", answers.weeknote, http_url),
        ("--archive-url", answers.archive_url, http_url),
    ):
        expected = value is not None and check(value)
        if expected:
            raise DigestError(f"{key} {value!r} is not valid", f"expected {expected}")
    if not answers.name.strip():
        raise DigestError("--name is empty", "give the newsletter's title, e.g. 'Weekly digest'")


def init_folder(folder: Path, answers: Answers, issue_id: str, templates: Path) -> Created:
    """Write a new digest's files into `folder` (created if need be); `issue_id` is this week's,
    for the overrides example; `templates` is the default templates' folder. Refuses, writing
    nothing, when any of the files or folders it would write already exists."""
    check_answers(answers)
    texts = {
        CONFIG_NAME: config_text(answers),
        OVERRIDES_NAME: overrides_text(issue_id),
    }
    copies = {TEMPLATES_NAME: templates} if answers.templates else {}
    if answers.offline:
        samples = sample_folder()
        copies[SAMPLE_FEEDS] = samples / SAMPLE_FEEDS
        copies[SAMPLE_WEEKNOTE] = samples / SAMPLE_WEEKNOTE
    for name in (*texts, *copies):
        if (folder / name).exists() or (folder / name).is_symlink():
            raise DigestError(
                f"{folder / name} already exists; digest init wrote nothing",
                "run it in an empty folder (digest init DIR), or move that file aside",
            )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, source in copies.items():
        written += _copy(source, folder / name)
    for name, text in texts.items():
        write_file(folder / name, text)
        written.append(folder / name)
    return Created(folder, tuple(written), next_steps(folder, answers))


def sample_folder() -> Path:
    """The sample feeds and weeknote: inside the installed package, or the repository's demo."""
    package = Path(__file__).parents[1]  # digest/, above this stage
    for folder in (package / "samples", package.parent / "examples" / "demo"):
        if (folder / SAMPLE_WEEKNOTE).is_file():
            return folder
    raise DigestError(
        "the sample feeds are missing", "reinstall digest, or run init without --offline"
    )


def _copy(source: Path, target: Path) -> list[Path]:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        return sorted(path for path in target.rglob("*") if path.is_file())
    shutil.copyfile(source, target)
    return [target]


def next_steps(folder: Path, answers: Answers) -> tuple[str, ...]:
    where = "" if folder == Path(".") else f"cd {folder} && "
    check = "digest check" + (
        "" if answers.weeknote or answers.offline else "  (fill in the weeknote URL)"
    )
    return (
        f"{where}{check}",
        "digest preview --open      # this week's email, as subscribers would get it",
        "digest subscribers add you@example.org",
        "digest doctor              # is everything in place for a real send?",
        "digest approve             # each week: the send goes out only once approved",
        f"digest send --publish     # sends, then writes the web archive into site/: copy that "
        f"folder to {answers.archive} (any static web host; README: 'Publishing the archive')",
        "deploy/ in digest's repository: the weekly send from cron or a systemd timer",
    )


def _quoted(value: str) -> str:
    """A YAML scalar holding exactly `value`: a JSON string is a YAML double-quoted one."""
    return json.dumps(value, ensure_ascii=False)


def _flow(words: list[str]) -> str:
    return "[" + ", ".join(_quoted(word) for word in words) + "]"


def config_text(answers: Answers) -> str:
    """feeds.yaml for these answers, a comment on every key."""
    parts = [
        _HEADER,
        _newsletter(answers),
        _themes(),
        _weeknote(answers),
        _feeds(answers.offline),
        _email(answers),
        _SENDING_OFFLINE if answers.offline else _SENDING,
        _LINKS_OFFLINE if answers.offline else _LINKS,
        _STATE,
    ]
    return "\n".join(parts)


_HEADER = """\
# Configuration for `digest`, written by `digest init`. Every key is described in README.md.
#
# SECRETS NEVER GO IN THIS FILE. The SendGrid API key is read only from the environment
# variable SENDGRID_API_KEY; this file is meant to be committed.
#
# Relative paths below are resolved against the directory containing this file.
"""

_COLUMN = 48  # where the comments start, as in the bundled feeds.yaml


def _line(text: str, comment: str) -> str:
    return (
        f"{text:<{_COLUMN - 1}} # {comment}" if len(text) < _COLUMN - 1 else f"{text}   # {comment}"
    )


def _newsletter(answers: Answers) -> str:
    # A first run looks back window_days; the sample feeds are dated November 2026.
    days, why = (
        (3650, "long, because the sample feeds are dated November 2026")
        if (answers.offline)
        else (7, "later runs start from the last send")
    )
    lines = [
        _line("newsletter:", "who sends the digest and how it is titled"),
        _line(f"  title: {_quoted(answers.name)}", "the digest's name (subject line and masthead)"),
        _line(
            f"  website: {_quoted(answers.website)}",
            "the community's site; the contact URL in the User-Agent",
        ),
        _line(
            f"  sender: {_quoted(answers.sender)}",
            "From address; must be a SendGrid-verified sender",
        ),
        _line(
            '  subject: "{lead}"',
            "cut to 60 characters; {lead} (the top story), {title}, {date}, {top_theme}, {issue}",
        ),
        _line(f"  timezone: {TIMEZONE}", "IANA time zone that decides the issue's week"),
        _line(f"  window_days: {days}", f"days of items to consider on the first run; {why}"),
        _line("  catch_all: Other news", "theme for items that match no other theme"),
    ]
    return "\n".join(lines) + "\n"


def _themes() -> str:
    lines = [_line("themes:", "the themes, in the order the email shows them; edit them freely")]
    for name, aliases, keywords in THEMES:
        lines += [
            _line(f"  - name: {_quoted(name)}", "the theme's heading in the email"),
            _line(f"    aliases: {_flow(aliases)}", "other weeknote headings that mean this theme"),
            _line(
                f"    keywords: {_flow(keywords)}", "words that put a feed item under this theme"
            ),
        ]
    return "\n".join(lines) + "\n"


def _weeknote(answers: Answers) -> str:
    if answers.offline:
        url, comment = (
            SAMPLE_WEEKNOTE,
            "the sample weeknote page beside this file; later your own page's URL",
        )
    elif answers.weeknote:
        url, comment = _quoted(answers.weeknote), "this week's weeknote page"
    else:
        url, comment = WEEKNOTE_PLACEHOLDER, "write your weeknote page's URL here"
    lines = [
        _line("weeknote:", "where this week's weeknote (the editorial lead) comes from"),
        _line(f"  url: {url}", comment),
        _line(
            "  # feed: https://blog.example.org/feed/",
            "or: the blog feed that announces weeknotes, instead of url:",
        ),
        _line(
            '  # title_pattern: "(?i)weeknote"', "with feed: the regex a weeknote's title matches"
        ),
        _line("  selector: article", "CSS selector of the article body on the page"),
        _line("  stale: hold", "last week's weeknote again? send nothing until a new one"),
    ]
    return "\n".join(lines) + "\n"


def _feeds(offline: bool) -> str:
    if not offline:
        return (
            "\n".join(
                [
                    _line("feeds: []", "partner feeds: add each as the commented example below"),
                    _line("#  - name: Partner news", "the partner's name, shown beside its items"),
                    _line(
                        "#    url: https://partner.example.org/feed/",
                        "the feed's URL (RSS or Atom)",
                    ),
                    _line(
                        f"#    theme: {THEMES[0][0]}", "default theme for its items (a theme above)"
                    ),
                    _line("#    enabled: true", "false skips the feed without deleting it"),
                ]
            )
            + "\n"
        )
    lines = [_line("feeds:", "partner feeds; these samples are files beside this file")]
    for file, name, theme in SAMPLE_FEED_LIST:
        lines += [
            _line(f"  - name: {_quoted(name)}", "the partner's name, shown beside its items"),
            _line(
                f"    url: {SAMPLE_FEEDS}/{file}",
                "the feed (a URL, or a path relative to this file)",
            ),
            _line(f"    theme: {_quoted(theme)}", "default theme for its items (a theme above)"),
            _line("    enabled: true", "false skips the feed without deleting it"),
        ]
    return "\n".join(lines) + "\n"


def _email(answers: Answers) -> str:
    lines = [
        _line("branding:", "how the email looks"),
        _line(
            '  accent_colour: "#005eb8"', "header band and links; needs 4.5:1 contrast with white"
        ),
        _line("  # postal_address: ...", "the sender's postal address; bulk mail must carry one"),
        "",
        _line("email:", "templates, links and footer of the email"),
        _line(
            f"  archive_url: {_quoted(answers.archive)}",
            "where the web archive is served ('View in your browser', 'more' links)",
        ),
    ]
    if answers.templates:
        lines.append(
            _line(f"  templates: {TEMPLATES_NAME}", "the templates to edit, beside this file")
        )
    unsubscribe = _quoted(answers.website.rstrip("/") + "/unsubscribe")
    if answers.offline:
        lines.append(
            _line(f"  unsubscribe_url: {unsubscribe}", "your unsubscribe page (a sample address)")
        )
    else:
        lines.append(
            _line(
                f"  # unsubscribe_url: {unsubscribe}",
                "your unsubscribe page; send refuses without one",
            )
        )
    lines += [
        _line("  # unsubscribe_group: 12345", "or: a SendGrid unsubscribe group id"),
        _line("  preview_dir: preview", "where digest preview writes, beside this file"),
    ]
    return "\n".join(lines) + "\n"


_SENDING = f"""\
{_line("sending:", "how digest send delivers the issue")}
{_line("  transport: sendgrid", "sendgrid (key in SENDGRID_API_KEY) or outbox (.eml files)")}
{_line("  approval: required", "send only what you approved (digest approve, or the desk)")}
"""
_SENDING_OFFLINE = f"""\
{_line("sending:", "how digest send delivers the issue")}
{_line("  transport: outbox", "nothing is emailed: messages land in the outbox folder")}
{_line("  outbox: outbox", "the outbox folder, beside this file")}
{_line("  approval: required", "send only what you approved (digest approve, or the desk)")}
"""
_LINKS = f"""\
{_line("links:", "how digest links checks the issue's links")}
{_line("  before_send: true", "digest send checks the links first")}
{_line("  max_broken_share: 0.1", "and refuses when a larger share of them is broken")}
"""
_LINKS_OFFLINE = f"""\
{_line("links:", "how digest links checks the issue's links")}
{_line("  before_send: false", "the sample's links point at made-up sites")}
"""
_STATE = f"""\
{_line("state:", "where digest keeps its state")}
{_line("  db: digest.db", "SQLite state file, relative to this file")}
"""


def overrides_text(issue_id: str) -> str:
    """An overrides file that changes nothing: a commented example keyed by this week's id."""
    return f"""\
# The editor's overrides for digest, one entry per issue, keyed by its week (this week is
# {issue_id}). The desk of `digest preview --serve` writes them for you (keeping these
# comments); or remove the # in front of the lines of an entry to use it. Every key is
# described in README.md.
#
# {issue_id}:                                    # the issue these changes are for
#   subject: Winter pressures, and what helps    # instead of newsletter.subject's
#   preheader: Three reports and a pilot         # the inbox's second line
#   intro: A shorter week, but a busy one.       # instead of the weeknote's editorial
#   intro_note: A day late this week, sorry.     # a note above the intro
#   theme_order: [Health inequalities]           # themes to show first, in this order
#   items:                                       # changes to single items, found by URL
#     - url: https://example.org/report          # the item's link
#       title: The report everyone is reading    # a new title
#       theme: Health inequalities               # move it to this theme
#       order: 1                                 # its place in its theme
#       lead: true                               # one of the editor's picks
#     - url: https://example.org/old-news
#       drop: true                               # leave it out, this week and after
"""
