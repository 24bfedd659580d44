"""Changes to the overrides file that keep what the editor wrote: comments, key order, quoting.

The desk (digest.publish.desk) changes one key at a time: an issue's subject, an item's title.
ruamel.yaml reads the file as a tree that remembers its comments, and writes it back the same
but for the change. It files each comment under the value before it in the file, so a comment
line that introduces the next key belongs to the one before: when a key is added after it or
taken away, such lines move with the place they stand in, not with the value they hang on.
A new key is put where it comes in the schema (subject before items, url first in an item);
an item's entry is found by canonical URL and goes when nothing but its url is left.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from digest.core.errors import DigestError
from digest.core.urls import canonical_url
from digest.core.yaml_syntax import compose_yaml
from digest.curation.overrides import IssueOverrides, ItemOverride

ISSUE_KEYS = [f.name for f in dataclasses.fields(IssueOverrides) if not f.metadata.get("internal")]
ITEM_KEYS = [f.name for f in dataclasses.fields(ItemOverride)]
MAP_SLOT, SEQ_SLOT = 2, 0  # where ruamel keeps the comment after a mapping's or a list's value


class OverridesEditError(DigestError):
    """The overrides file cannot be changed as asked without losing what the editor wrote."""

    hint = "fix overrides.yaml by hand (digest check names the line), then try again"


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quotes are kept
    yaml.indent(mapping=2, sequence=4, offset=2)  # as digest init and the README write it
    yaml.width = 4096  # a long title stays on its line
    yaml.preserve_quotes = True
    return yaml


class OverridesEditor:
    """One overrides file, read for changes; `text()` is the file with them."""

    def __init__(self, path: Path):
        self.path = path
        self.original = path.read_text(encoding="utf-8") if path.exists() else ""
        if path.exists():
            compose_yaml(path, "")  # a YAML mistake is named in plain words, at its line
        root = _yaml().load(self.original)
        if root is None:
            root = CommentedMap()
        if not isinstance(root, CommentedMap):
            raise OverridesEditError(
                f"{path} is not a mapping of issue ids to overrides; the desk changed nothing"
            )
        self.root = root

    def text(self) -> str:
        out = io.StringIO()
        _yaml().dump(self.root, out)
        return out.getvalue()

    def issue_value(self, issue_id: str, key: str):
        entry = self.root.get(issue_id)
        return entry.get(key) if isinstance(entry, CommentedMap) else None

    def item_value(self, issue_id: str, url: str, key: str):
        entry = self._item(issue_id, url)
        return None if entry is None else entry.get(key)

    def set_issue(self, issue_id: str, key: str, value) -> None:
        """Set an issue's key; None takes it away (and the issue's entry, once empty)."""
        entry = self._entry(issue_id, create=value is not None)
        if entry is None:
            return
        _put(entry, key, _scalar(value), ISSUE_KEYS, opener=(self.root, issue_id))
        if not entry:
            _remove(self.root, issue_id, opener=None)

    def set_item(self, issue_id: str, url: str, key: str, value) -> None:
        """Set a key of the item whose canonical URL is `url`'s; None takes it away, and the
        item's entry with it when only its url is left."""
        entry = self._item(issue_id, url)
        if entry is None and value is None:
            return
        if entry is None:
            entry = CommentedMap(url=url)
            issue = self._entry(issue_id, create=True)
            if not isinstance(issue.get("items"), CommentedSeq):
                _put(issue, "items", CommentedSeq(), ISSUE_KEYS, opener=(self.root, issue_id))
            _append(issue["items"], entry, opener=(issue, "items"))
        items = self.root[issue_id]["items"]
        _put(entry, key, _scalar(value), ITEM_KEYS, opener=None)  # url stays first
        if list(entry) == ["url"]:
            _remove(items, items.index(entry), opener=(self.root[issue_id], "items"))
            if not items:
                self.set_issue(issue_id, "items", None)

    def _entry(self, issue_id: str, create: bool) -> CommentedMap | None:
        entry = self.root.get(issue_id)
        if isinstance(entry, CommentedMap):
            return entry
        if not create:
            return None
        if issue_id in self.root:  # `2026-W48:` with nothing under it yet
            self.root[issue_id] = CommentedMap()
        else:
            order = sorted({*self.root, issue_id})
            _put(self.root, issue_id, CommentedMap(), order, opener=None)
        return self.root[issue_id]

    def _item(self, issue_id: str, url: str) -> CommentedMap | None:
        entry = self._entry(issue_id, create=False)
        items = entry.get("items") if entry is not None else None
        wanted = canonical_url(url)
        for item in items if isinstance(items, CommentedSeq) else ():
            if isinstance(item, CommentedMap) and canonical_url(str(item.get("url"))) == wanted:
                return item
        return None


def _scalar(value):
    """Text over several lines is written as a block, as an editor would write it."""
    return LiteralScalarString(value) if isinstance(value, str) and "\n" in value else value


# A slot is where ruamel keeps the comment printed after a value: (mapping, key) or (list,
# index). A container's `opener` is the slot of the line that opens it (its key in the parent),
# which holds the comment lines before its first entry; None for the file's top level.


def _put(mapping: CommentedMap, key: str, value, order: list[str], opener) -> None:
    """Set, add or (value None) take away `key`; a new key goes where `order` puts it."""
    if value is None:
        if key in mapping:
            _remove(mapping, key, opener)
        return
    if key in mapping:
        mapping[key] = value
        return
    later = [k in order and order.index(k) > order.index(key) for k in mapping]
    position = later.index(True) if True in later else len(mapping)
    lines = _take_lines(_slot_before(mapping, position, opener))
    mapping.insert(position, key, value)
    _give_lines(_last_slot(mapping, key), lines)


def _append(seq: CommentedSeq, value, opener) -> None:
    lines = _take_lines(_slot_before(seq, len(seq), opener))
    seq.append(value)
    _give_lines(_last_slot(seq, len(seq) - 1), lines)


def _remove(container, key, opener) -> None:
    """Take `key` (an index in a list) away; the comment lines after its value stay where they
    were, after what comes before it."""
    position = list(container).index(key) if isinstance(container, CommentedMap) else key
    lines = _take_opening_lines(container, key) + _take_lines(_last_slot(container, key))
    del container[key]  # a list renumbers its comments itself; a mapping keeps the key's
    if isinstance(container, CommentedMap):
        container.ca.items.pop(key, None)
    _give_lines(_slot_before(container, position, opener), lines)


def _last_slot(container, key) -> tuple:
    """The slot of the comment printed after everything under container[key]."""
    value = container[key]
    while isinstance(value, CommentedMap | CommentedSeq) and len(value):
        last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        container, key, value = value, last, value[last]
    return container, key


def _slot_before(container, position: int, opener) -> tuple | None:
    """The slot of the comment printed just before the entry at `position` (or at the end)."""
    if position == 0:
        return opener
    keys = list(container) if isinstance(container, CommentedMap) else range(len(container))
    return _last_slot(container, keys[position - 1])


def _index(container) -> int:
    return MAP_SLOT if isinstance(container, CommentedMap) else SEQ_SLOT


def _token(slot) -> CommentToken | None:
    if slot is None:
        return None
    container, key = slot
    entry = container.ca.items.get(key)
    return entry[_index(container)] if entry else None


def _take_lines(slot) -> str:
    """The whole comment lines of a slot, taken away; the comment at the end of the value's
    own line stays."""
    token = _token(slot)
    if token is None or "\n" not in token.value:
        return ""
    own, _, lines = token.value.partition("\n")
    if own.strip():
        token.value = own + "\n"
    else:
        container, key = slot
        container.ca.items[key][_index(container)] = None
    return lines


def _take_opening_lines(container, key) -> str:
    """The comment lines between a key and the first entry of its value, which ruamel keeps
    apart when the key's own line has no comment, taken away."""
    entry = container.ca.items.get(key) if isinstance(container, CommentedMap) else None
    tokens = entry[3] if entry and len(entry) > 3 and entry[3] else []
    if tokens:
        entry[3] = None
        value = container[key]
        if isinstance(value, CommentedMap | CommentedSeq) and value.ca.comment:
            value.ca.comment[1] = None
    return "".join(" " * token.start_mark.column + token.value for token in tokens)


def _give_lines(slot, lines: str) -> None:
    if not lines or slot is None:
        return
    token = _token(slot)
    if token is not None:
        token.value = (token.value if token.value.endswith("\n") else token.value + "\n") + lines
        return
    container, key = slot
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    entry[_index(container)] = CommentToken("\n" + lines, CommentMark(0), None)
