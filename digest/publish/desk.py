"""The editor's desk: what the controls of `digest preview --serve` do. Each change is one edit
of the week's entry in the overrides file (digest.curation.overrides_edit keeps its comments),
checked as `digest check` would before it is written, and remembered so that Undo can put the
file back as it was. Approve freezes the issue as `digest approve` does.
"""

from __future__ import annotations

import getpass
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.core.config import load_config
from digest.core.errors import ConfigError, DigestError
from digest.core.files import write_file
from digest.core.models import Issue, IssueItem
from digest.core.store import Store
from digest.core.urls import canonical_url
from digest.curation import curate
from digest.curation.overrides import load_overrides
from digest.curation.overrides_edit import OverridesEditor
from digest.delivery.approval import Approvals
from digest.publish.page import ISSUE_FIELDS, PreviewPage
from digest.publish.serve import PreviewServer

ITEM_ACTIONS = ("pick", "unpick", "drop", "move", "up", "down", "edit")


class DeskError(DigestError):
    """A desk action that cannot be done; the page shows why and nothing changed."""


@dataclass(frozen=True)
class _Change:
    before: str | None  # the file's text before the change; None: there was no file
    after: str


class Desk:
    """Acts on the issue the page shows (`PreviewPage.issue`), through `config_path`'s overrides
    file; `approve(by)` and `revoke()` are digest approve's, for the page's week."""

    def __init__(self, config_path: Path, approve: Callable[[], str], revoke: Callable[[], str]):
        self.config_path = config_path
        self._approve, self._revoke = approve, revoke
        self._changes: list[_Change] = []

    def act(self, action: dict, page: PreviewPage | None) -> str:
        """Do `action` (what the page sent) and say what was done."""
        kind = action.get("action")
        if kind == "undo":
            return self.undo()
        if page is None or page.issue is None:
            raise DeskError("there is no issue to change: the last render failed, or it was sent")
        if kind == "approve":
            return self._approve()
        if kind == "revoke":
            return self._revoke()
        config = load_config(self.config_path)
        editor = OverridesEditor(config.overrides_path())
        if kind == "issue":
            said = _issue_texts(editor, page, action)
        elif kind == "restore":
            said = _restore(editor, page, str(action.get("url", "")))
        elif kind in ITEM_ACTIONS:
            said = _item_action(editor, page, kind, action)
        else:
            raise DeskError(f"the desk has no action {kind!r}")
        return self._write(editor, page.issue.id, config, said)

    def undo(self) -> str:
        """Put the overrides file back as it was before the desk's last change."""
        if not self._changes:
            raise DeskError("nothing to undo: the desk has changed nothing since it started")
        change = self._changes[-1]
        path = load_config(self.config_path).overrides_path()
        now = path.read_text(encoding="utf-8") if path.exists() else None
        if now != change.after:
            raise DeskError(
                f"{path.name} was changed outside the desk since its last change",
                "undo that change in the file itself; the desk leaves the file as it is",
            )
        self._changes.pop()
        if change.before is None:
            path.unlink()
        else:
            write_file(path, change.before)
        return "undone"

    def _write(self, editor: OverridesEditor, issue_id: str, config, said: str) -> str:
        text = editor.text()
        if text == editor.original:
            return "nothing to change"
        _check(text, editor.path, issue_id, config)
        before = editor.original if editor.path.exists() else None
        write_file(editor.path, text)
        self._changes.append(_Change(before, text))
        return said


def _check(text: str, path: Path, issue_id: str, config) -> None:
    """What the desk is about to write, read as every build reads the file: a change the
    overrides cannot take is refused before it is written."""
    with tempfile.TemporaryDirectory() as folder:
        trial = Path(folder, path.name)
        trial.write_text(text, encoding="utf-8")
        try:
            load_overrides(trial, issue_id, config)
        except ConfigError as exc:
            problem = exc.problems[0].replace(str(trial), path.name)
            raise DeskError(f"the desk would write a mistake: {problem}") from None


def _issue_texts(editor: OverridesEditor, page: PreviewPage, action: dict) -> str:
    """The subject, preheader, intro and note: a text as the page showed it changes nothing,
    an empty one gives the key back to the build."""
    issue_id, changed = page.issue.id, []
    shown = {"subject": page.subject, "preheader": page.preheader}
    for name in ISSUE_FIELDS:
        if name not in action:
            continue
        value = str(action[name]).replace("\r\n", "\n").strip()
        if name in shown:
            value = " ".join(value.split())  # one line
        before = editor.issue_value(issue_id, name)
        if value == (before or shown.get(name, "")):
            continue
        editor.set_issue(issue_id, name, value or None)
        changed.append(name.replace("_", " "))
    return f"changed the {' and '.join(changed)}" if changed else "nothing to change"


def _item_action(editor: OverridesEditor, page: PreviewPage, kind: str, action: dict) -> str:
    issue = page.issue
    item = _find(issue, str(action.get("url", "")))
    set_key = _setter(editor, issue.id, item.url)
    if kind == "pick":
        set_key("drop", None)
        set_key("lead", True)
        return f"picked {item.title!r}"
    if kind == "unpick":  # a pick the file marked is unmarked; one the build chose is refused
        set_key("lead", None if editor.item_value(issue.id, item.url, "lead") else False)
        return f"unpicked {item.title!r}"
    if kind == "drop":
        for key in ("lead", "pin", "order"):
            set_key(key, None)
        set_key("drop", True)
        return f"dropped {item.title!r}"
    if kind == "move":
        theme = str(action.get("theme", ""))
        if theme not in page.themes:
            raise DeskError(f"{theme!r} is not a theme of this newsletter")
        set_key("order", None)  # a place in the old theme means nothing in the new one
        set_key("theme", theme if theme != item.theme else None)
        return f"moved {item.title!r} to {theme}"
    if kind in ("up", "down"):
        for url, place in _places(issue, item, -1 if kind == "up" else 1, editor).items():
            editor.set_item(issue.id, url, "order", place)
        return f"moved {item.title!r} {kind}"
    return _edit(editor, issue.id, item, action)


def _restore(editor: OverridesEditor, page: PreviewPage, url: str) -> str:
    """Bring a dropped item back: this week's drop taken away, one of an earlier week's undone
    for this week and the weeks after (drop: false)."""
    wanted = canonical_url(url)
    left_out = [d for d in page.issue.skipped if d.outcome == "dropped"]
    dropped = next((d for d in left_out if canonical_url(d.url) == wanted), None)
    if dropped is None:
        raise DeskError(f"{url} is not among the dropped items; the page reloads with what is")
    earlier = wanted in page.overrides.earlier_drops
    editor.set_item(page.issue.id, dropped.url, "drop", False if earlier else None)
    return f"restored {dropped.title!r}"


def _edit(editor: OverridesEditor, issue_id: str, item: IssueItem, action: dict) -> str:
    """A new title (empty: the build's again) and blurb (empty: none)."""
    title = " ".join(str(action.get("title", item.title)).split())
    blurb = " ".join(str(action.get("blurb", item.blurb)).split())
    if title != item.title:
        editor.set_item(issue_id, item.url, "title", title or None)
    if blurb != " ".join(item.blurb.split()):
        editor.set_item(issue_id, item.url, "blurb", blurb)
    return f"edited {title or item.title!r}"


def _setter(editor: OverridesEditor, issue_id: str, url: str) -> Callable:
    def set_key(key: str, value) -> None:
        editor.set_item(issue_id, url, key, value)

    return set_key


def _find(issue: Issue, url: str) -> IssueItem:
    wanted = canonical_url(url)
    for item in issue.items():
        if item.canonical_url == wanted:
            return item
    raise DeskError(f"{url} is not in this issue any more; the page reloads with what is")


def _places(issue: Issue, item: IssueItem, step: int, editor: OverridesEditor) -> dict[str, int]:
    """The `order` of the items that need one to move `item` a step within its theme, as the
    email shows the theme (the picks are above it, so they keep their places): the moved item,
    and every item whose place the file gives already, at its new place."""
    theme = next(theme for theme in issue.themes if theme.name == item.theme)
    every = [*theme.items, *theme.more]
    shown = [i for i in every if not i.lead]
    if item not in shown:
        raise DeskError(f"{item.title!r} is one of the picks: unpick it to move it in its theme")
    index = shown.index(item)
    if not 0 <= index + step < len(shown):
        raise DeskError(f"{item.title!r} is already {'first' if step < 0 else 'last'}")
    shown[index], shown[index + step] = shown[index + step], shown[index]
    rest = iter(shown)
    moved = [i if i.lead else next(rest) for i in every]
    placed = {i.url for i in every if editor.item_value(issue.id, i.url, "order") is not None}
    return {i.url: n for n, i in enumerate(moved, 1) if i.url in placed or i is item}


def open_desk(
    config_path: Path,
    db_path: Path | None,
    issue_id: str | None,
    templates: Path | None,
    out: Path | None,
    clock: Callable[[], datetime],
    port: int = 0,
) -> PreviewServer:
    """The preview server of `digest preview --serve`, with the desk acting on its page."""
    from digest.publish.preview import approve_issue, page_renderer, watched_paths

    def approve() -> str:
        config = load_config(config_path)
        with Store.open(db_path or config.db_path(), create=False) as store:
            approval, _ = approve_issue(
                config, store, clock(), issue_id, templates, getpass.getuser()
            )
        return f"approved issue {approval.issue_id}, sha256 {approval.hash[:12]}"

    def revoke() -> str:
        config = load_config(config_path)
        week = issue_id or curate.issue_id(clock(), config.newsletter.timezone)
        with Store.open(db_path or config.db_path(), create=False) as store:
            had = Approvals(store).revoke(week)
        return f"revoked the approval of issue {week}" if had else f"{week} was not approved"

    desk = Desk(config_path, approve, revoke)
    render = page_renderer(config_path, db_path, issue_id, templates, out, clock)
    watched = watched_paths(load_config(config_path), templates)
    return PreviewServer(render, watched, port=port, act=desk.act)
