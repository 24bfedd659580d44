"""The editor's overrides file: per issue, pin, drop, retitle, re-blurb, move, reorder or pick
items by URL, write the subject, preheader and intro (or a note above it) and reorder the themes.
Read with the same schema machinery as feeds.yaml, so its problems come with file, line and key;
an override naming a URL the issue does not have is only a warning, because the item may simply
have dropped out of the window. The desk (digest.publish.desk) writes it through
digest.curation.overrides_edit.

    2026-W48:
      subject: Winter pressures, and what helps
      preheader: Three reports and a pilot worth copying
      intro_note: A day late this week, sorry.
      theme_order: [Health inequalities, Video consultations]
      items:
        - url: https://example.org/report
          title: The report everyone is talking about
          theme: Health inequalities
          order: 1
          lead: true
        - url: https://example.org/old-news
          drop: true
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from digest.core.config_reader import Reader, known, node_at, repeats
from digest.core.errors import ConfigError
from digest.core.models import IssueItem
from digest.core.settings import Config, setting
from digest.core.text import normalise_heading
from digest.core.urls import canonical_url
from digest.core.validators import http_url, one_line, positive
from digest.core.yaml_syntax import compose_yaml

ISSUE_ID = re.compile(r"\d{4}-W(0[1-9]|[1-4]\d|5[0-3])")


@dataclass(frozen=True)
class ItemOverride:
    url: str = setting(
        doc="the item's link (tracking parameters and case of host ignored)", check=http_url
    )
    title: str | None = setting(None, "a new title")
    blurb: str | None = setting(None, "a new blurb")
    theme: str | None = setting(None, "move the item to this theme")
    pin: bool = setting(False, "show it first in its theme, whatever the cap")
    order: int | None = setting(
        None, "its place in its theme, 1 first (the others keep their order around it)", positive
    )
    drop: bool | None = setting(
        None,
        "true: leave it out of the issue, and of every later one; false: keep it, though an "
        "earlier week dropped it",
    )
    lead: bool | None = setting(
        None, "true: one of the editor's picks that open the issue; false: never one"
    )

    def conflict(self) -> str | None:
        changes = (self.title, self.theme, self.pin, self.drop is not None)
        unchanged = self.blurb is None and self.order is None and self.lead is None
        if not any(changes) and unchanged:
            return "changes nothing (expected title, blurb, theme, pin, order, drop or lead)"
        if self.drop and (self.pin or self.lead):
            kept = "pins" if self.pin else "picks"
            return f"both {kept} and drops the item (expected one of them)"
        return None


@dataclass(frozen=True)
class IssueOverrides:
    subject: str | None = setting(
        None, "the subject line, instead of newsletter.subject's", one_line
    )
    preheader: str | None = setting(
        None, "the inbox's second line, instead of the intro's start", one_line
    )
    intro: str | None = setting(None, "the intro text, instead of the weeknote's editorial")
    intro_note: str | None = setting(None, "a note of the editor's above the intro")
    theme_order: tuple[str, ...] = setting((), "themes to show first, in this order")
    items: tuple[ItemOverride, ...] = setting((), "changes to single items")
    # Not a key: the URLs earlier weeks dropped. A dropped item stays dropped, until a week
    # after it keeps it (drop: false).
    earlier_drops: frozenset[str] = field(default=frozenset(), metadata={"internal": True})


def load_overrides(path: Path, issue_id: str, config: Config) -> IssueOverrides:
    """The overrides for one issue; none when the file or the issue's entry is absent. Every
    entry is validated, so a mistake in next week's is caught this week."""
    if not path.exists():
        return IssueOverrides()
    name = str(path)
    root = compose_yaml(path, "")
    if root is None:
        return IssueOverrides()
    reader = Reader(name)
    if not isinstance(root, yaml.MappingNode):
        reader.problem(root, "", "expected a mapping of issue ids (2026-W48) to overrides")
        raise ConfigError(name, reader.problems)
    found, seen, earlier = IssueOverrides(), set(), {}
    for key_node, node in root.value:
        key = str(key_node.value)
        if not ISSUE_ID.fullmatch(key):
            reader.problem(key_node, key, "is not an issue id (expected a week like 2026-W48)")
            continue
        if key in seen:
            reader.problem(key_node, key, "appears twice (expected each issue once)")
            continue
        seen.add(key)
        overrides = reader.read(IssueOverrides, node, key)
        if overrides is not None:
            _check_entry(overrides, node, key, config, reader)
            found = overrides if key == issue_id else found
            if key < issue_id:
                earlier[key] = overrides
    if reader.problems:
        raise ConfigError(name, reader.problems)
    return dataclasses.replace(found, earlier_drops=_dropped_before(earlier))


def _dropped_before(weeks: dict[str, IssueOverrides]) -> frozenset[str]:
    """The URLs the weeks before dropped, week by week: a later week's `drop: false` keeps one
    again."""
    drops: set[str] = set()
    for key in sorted(weeks):
        for item in weeks[key].items or ():
            if item and item.drop:
                drops.add(canonical_url(item.url))
            elif item and item.drop is False:
                drops.discard(canonical_url(item.url))
    return frozenset(drops)


def _check_entry(
    overrides: IssueOverrides, node: yaml.Node, key: str, config: Config, reader: Reader
) -> None:
    """Themes named in feeds.yaml, each URL once. `overrides` may be partly read: the parts that
    did not parse are None and are skipped."""
    names = [theme.name for theme in config.themes] + [config.newsletter.catch_all]
    declared = {normalise_heading(name) for name in names}

    def check_theme(theme: str, at: yaml.Node, where: str) -> None:
        if normalise_heading(theme) not in declared:
            close = difflib.get_close_matches(theme, names, n=1)
            guess = f"did you mean '{close[0]}'?" if close else "expected a theme in feeds.yaml"
            reader.problem(at, where, f"'{theme}' is not a theme ({guess})")

    for j, theme in enumerate(overrides.theme_order or ()):
        if theme:
            check_theme(theme, node_at(node, "theme_order", j), f"{key}.theme_order[{j}]")
    for i, theme in known(overrides.items, "theme"):
        if theme:
            check_theme(theme, node_at(node, "items", i, "theme"), f"{key}.items[{i}].theme")
    urls = known(overrides.items, "url")
    for i, first in repeats((i, canonical_url(url)) for i, url in urls):
        reader.problem(
            node_at(node, "items", i, "url"),
            f"{key}.items[{i}].url",
            f"{overrides.items[i].url!r} is overridden twice "
            f"(expected each URL once; first at items[{first}])",
        )


def apply_overrides(
    items: list[IssueItem], overrides: IssueOverrides, config: Config
) -> tuple[list[IssueItem], list[IssueItem], list[str]]:
    """(items kept, items dropped, warnings). Kept items are retitled, re-blurbed, moved and
    pinned as asked; pinned ones come first, in the order the file lists them; then items with
    an `order` take their places in their themes."""
    wanted = {canonical_url(override.url): override for override in overrides.items}
    present = {item.canonical_url for item in items}
    warnings = [
        f"overrides: {override.url} is not among this issue's items; nothing to change"
        for url, override in wanted.items()
        if url not in present
    ]
    declared = [theme.name for theme in config.themes] + [config.newsletter.catch_all]
    names = {normalise_heading(name): name for name in reversed(declared)}
    kept, dropped = [], []
    for item in items:
        override = wanted.get(item.canonical_url)
        if override is None and item.canonical_url in overrides.earlier_drops:
            dropped.append(item)
        elif override is None:
            kept.append(item)
        elif override.drop:
            dropped.append(item)
        else:
            kept.append(_changed(item, override, names))
    listed = list(wanted)
    pinned = sorted((i for i in kept if i.pinned), key=lambda i: listed.index(i.canonical_url))
    kept = pinned + [item for item in kept if not item.pinned]
    places = {url: o.order for url, o in wanted.items() if o.order is not None and not o.drop}
    return in_place(kept, places), dropped, warnings


def in_place(items: list[IssueItem], places: dict[str, int]) -> list[IssueItem]:
    """`items` with each one `places` names (canonical URL → place, 1 first) taken out and put
    back at that place among its theme's items, the lowest place first (a place past the end is
    the end); the others keep their order around them. A theme's items take the slots its items
    had in `items`, so the order across themes (by which the editorial's links become picks in
    page order) stays as it was."""
    slots: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        slots.setdefault(item.theme, []).append(index)
    result = list(items)
    for indexes in slots.values():
        members = [items[i] for i in indexes if items[i].canonical_url not in places]
        placed = [items[i] for i in indexes if items[i].canonical_url in places]
        for item in sorted(placed, key=lambda i: places[i.canonical_url]):
            members.insert(places[item.canonical_url] - 1, item)
        for index, item in zip(indexes, members, strict=True):
            result[index] = item
    return result


def _changed(item: IssueItem, override: ItemOverride, names: dict[str, str]) -> IssueItem:
    changes: dict = {"pinned": override.pin}
    if override.title:
        changes["title"] = override.title
    if override.blurb is not None:
        changes["blurb"] = override.blurb
    if override.theme:
        changes["theme"] = names.get(normalise_heading(override.theme), override.theme)
        changes["reason"] = "moved in the overrides file"
    return dataclasses.replace(item, **changes)
