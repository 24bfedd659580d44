"""Read feeds.yaml into the settings (digest.core.settings), reporting every problem at once:
the reader's, key by key, then the rules that span keys (unique theme names and feeds, declared
themes, local files that exist, readable colours, placeholders, the one-click URL)."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from digest.core.colours import MIN_CONTRAST, contrast_ratio
from digest.core.config_reader import Reader, known, node_at, repeats
from digest.core.errors import ConfigError
from digest.core.settings import Config
from digest.core.text import normalise_heading
from digest.core.validators import named_mailbox
from digest.core.yaml_syntax import compose_yaml


def load_config(path: str | Path) -> Config:
    """Parse and validate feeds.yaml; raise ConfigError listing every problem found."""
    path = Path(path)
    name = str(path)
    root = compose_yaml(path, "pass --config PATH or set DIGEST_CONFIG")
    if root is None:
        raise ConfigError(
            name, [f"{name}:1: the file is empty (expected newsletter:, themes:, feeds:)"]
        )
    reader = Reader(name)
    config = reader.read(Config, root, "")
    if config is not None:  # perhaps only partly read: the cross-checks look at what is there
        config = dataclasses.replace(config, path=path)
        _cross_check(config, root, reader)
    if reader.problems:
        raise ConfigError(name, reader.problems)
    return config


def _cross_check(config: Config, root: yaml.MappingNode, reader: Reader) -> None:
    """Rules that span keys. `config` may be partly read: a part that did not parse is None and
    is skipped, so that it neither crashes these checks nor makes them invent problems."""
    names = known(config.themes, "name")
    for i, first in repeats((i, normalise_heading(name)) for i, name in names):
        reader.problem(
            node_at(root, "themes", i, "name"),
            f"themes[{i}].name",
            f"'{config.themes[i].name}' is declared twice "
            f"(expected unique names; first at themes[{first}])",
        )
    urls = known(config.feeds, "url")
    for i, first in repeats((i, config.locate(url).rstrip("/").lower()) for i, url in urls):
        reader.problem(
            node_at(root, "feeds", i, "url"),
            f"feeds[{i}].url",
            f"{config.feeds[i].url!r} is listed twice "
            f"(expected each feed once; first at feeds[{first}])",
        )
    for i, url in urls:
        _check_local(config, url, node_at(root, "feeds", i, "url"), f"feeds[{i}].url", reader)
    if config.themes is not None:
        _check_feed_themes(config, [name for _, name in names], root, reader)
    for key in ("url", "feed"):
        location = _value(config, "weeknote", key)
        if location:
            node = node_at(root, "weeknote", key)
            _check_local(config, location, node, f"weeknote.{key}", reader)
    _check_email(config, root, reader)
    _check_one_click(config, root, reader)


def _check_feed_themes(config: Config, names: list[str], root, reader: Reader) -> None:
    """Each feed's theme must be a declared theme's name. A theme whose name is missing or
    unreadable may still say what it meant to be called (`nmae: Video`, a bare `- Video`):
    a feed naming that is not reported, as it is right once the theme is; any other is."""
    declared = {normalise_heading(name) for name in names}
    for i, theme in enumerate(config.themes):
        if getattr(theme, "name", None) is None:
            declared |= {normalise_heading(text) for text in _meant_names(root, i)}
    for i, theme in known(config.feeds, "theme"):
        if normalise_heading(theme) not in declared:
            close = difflib.get_close_matches(theme, names, n=1)
            guess = f"did you mean '{close[0]}'?" if close else "expected one of the themes' names"
            reader.problem(
                node_at(root, "feeds", i, "theme"),
                f"feeds[{i}].theme",
                f"'{theme}' is not a declared theme ({guess})",
            )


def _meant_names(root: yaml.MappingNode, i: int) -> list[str]:
    """The texts of a nameless theme that could be its name: the entry itself when it is a
    bare text, else the values of its keys other than the theme's known ones."""
    entry = node_at(root, "themes", i)
    if isinstance(entry, yaml.ScalarNode):
        return [str(entry.value)]
    others = {"aliases", "keywords", "colour", "emoji"}
    values = [value for key, value in getattr(entry, "value", ()) if key.value not in others]
    return [
        str(scalar.value)
        for value in values
        for scalar in (value.value if isinstance(value, yaml.SequenceNode) else [value])
        if isinstance(scalar, yaml.ScalarNode)
    ]


SUBJECT_FIELDS = {"lead": "", "title": "", "date": "", "top_theme": "", "issue": ""}
# (text, background) pairs of branding keys the email puts one on the other.
READABLE_PAIRS = (
    ("text_colour", "card_colour"),
    ("muted_colour", "card_colour"),
    ("muted_colour", "page_colour"),
    ("dark_text_colour", "dark_card_colour"),
    ("dark_muted_colour", "dark_card_colour"),
    ("dark_muted_colour", "dark_page_colour"),
    ("dark_link_colour", "dark_card_colour"),
)


def _check_email(config: Config, root: yaml.MappingNode, reader: Reader) -> None:
    """Readable colours, known placeholders, an existing templates folder."""
    accent = _value(config, "branding", "accent_colour")
    if accent and (ratio := contrast_ratio(accent, "#ffffff")) < MIN_CONTRAST:
        reader.problem(
            node_at(root, "branding", "accent_colour"),
            "branding.accent_colour",
            f"{accent!r} has {ratio:.1f}:1 contrast with white (expected at least "
            f"{MIN_CONTRAST}:1: white text sits on it, and it colours links; pick a darker one)",
        )
    _check_palette(config, root, reader)
    for path, fields in (("newsletter.subject", SUBJECT_FIELDS), ("branding.why", {"title": ""})):
        text = _value(config, *path.split("."))
        error = text and _format_error(text, fields)
        if error:
            expected = ", ".join(f"{{{name}}}" for name in fields)
            reader.problem(
                node_at(root, *path.split(".")),
                path,
                f"{text!r} has a bad placeholder ({error}; expected {expected})",
            )
    templates = _value(config, "email", "templates")
    if templates and not (config.path.parent / templates).is_dir():
        reader.problem(
            node_at(root, "email", "templates"),
            "email.templates",
            f"{templates!r}: no such folder (expected a folder relative to {config.path.name})",
        )


def _check_palette(config: Config, root: yaml.MappingNode, reader: Reader) -> None:
    for text_key, background_key in READABLE_PAIRS:
        text = _value(config, "branding", text_key)
        background = _value(config, "branding", background_key)
        if text and background and (ratio := contrast_ratio(text, background)) < MIN_CONTRAST:
            reader.problem(
                node_at(root, "branding", text_key),
                f"branding.{text_key}",
                f"{text!r} has {ratio:.1f}:1 contrast with {background_key} {background!r} "
                f"(expected at least {MIN_CONTRAST}:1)",
            )


def _check_one_click(config: Config, root: yaml.MappingNode, reader: Reader) -> None:
    url = _value(config, "sending", "one_click_url")
    expected = url and _one_click_problem(url)
    if expected:
        reader.problem(
            node_at(root, "sending", "one_click_url"),
            "sending.one_click_url",
            f"{url!r} is not valid (expected {expected})",
        )


def _one_click_problem(url: str) -> str | None:
    """A one-click URL names its recipient by a signed {token}: with the plain address in it,
    anyone could unsubscribe anyone by editing the link."""
    if "{email}" in url:
        return "{token}, the signed form of the address; {email} lets anyone unsubscribe anyone"
    error = _format_error(url, {"token": ""})
    if error:
        return f"only the {{token}} placeholder ({error})"
    if "{token}" not in url:
        return "a {token} placeholder, so the endpoint learns who is leaving"
    return None


def config_warnings(config: Config) -> list[str]:
    """What a valid config still lacks for bulk mail; `digest check` shows these as warnings."""
    email, sending = config.email, config.sending
    warnings = []
    ways = (email.unsubscribe_group, email.unsubscribe_url, sending.one_click_url)
    if not (any(ways) or sending.unsubscribe_mailto):
        warnings.append(
            "no unsubscribe is configured, so messages carry no List-Unsubscribe header: set "
            "email.unsubscribe_group (SendGrid), or sending.one_click_url, email.unsubscribe_url "
            "or sending.unsubscribe_mailto"
        )
    elif "{token}" in (sending.one_click_url or "") and not sending.list_id:
        warnings.append(
            f"sending.list_id is not set, so unsubscribe tokens are signed for the list "
            f"{config.newsletter.title!r} (newsletter.title): renaming the newsletter would "
            "break the links in mail already sent; set sending.list_id to keep them working"
        )
    sender = config.newsletter.sender
    if named_mailbox(sender):
        warnings.append(
            f"newsletter.sender {sender!r} has no display name, so inboxes show the bare "
            f"address: write it as '{config.newsletter.title} <{sender.strip('<> ')}>'"
        )
    return warnings


def _format_error(text: str, fields: dict[str, str]) -> str | None:
    try:
        text.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        return str(exc)
    return None


def _check_local(config: Config, location: str, node, path: str, reader: Reader) -> None:
    url = config.locate(location)
    if url.startswith("file:"):
        from urllib.request import url2pathname

        local = Path(url2pathname(urlsplit(url).path))
        if not local.is_file():
            reader.problem(
                node,
                path,
                f"{location!r}: no such file (expected a path relative to "
                f"{config.path.name}, or a URL)",
            )


def _value(config: Config, *path: str):
    """The value at a path of keys in a partly read config; None where a part did not parse
    (getattr of None gives the default, None, so a missing part ends the walk)."""
    value = config
    for name in path:
        value = getattr(value, name, None)
    return value
