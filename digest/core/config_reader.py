"""Walks the YAML node tree of feeds.yaml beside the settings dataclasses (digest.core.settings),
building their values and collecting every problem with its line number, so one run of
`digest check` lists them all."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Iterator

import yaml

from digest.core.settings import REQUIRED, strip_none

SECRET_KEY = re.compile(r"api[_-]?key|secret|token|password", re.IGNORECASE)
SENDGRID_KEY = re.compile(r"SG\.[\w-]{16,}\.[\w-]{16,}")
SECRET_HINT = "secrets never go in feeds.yaml: delete the value and export SENDGRID_API_KEY instead"


class Reader:
    """Walks the YAML node tree beside the dataclasses, collecting problems with line numbers."""

    def __init__(self, name: str):
        self.name = name
        self.lines: list[tuple[int, str]] = []
        self._scalars = yaml.SafeLoader("")

    @property
    def problems(self) -> list[str]:
        return [text for _, text in sorted(self.lines, key=lambda line: line[0])]

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        line = node.start_mark.line + 1
        self.lines.append((line, f"{self.name}:{line}: {path or '(top)'}: {message}"))

    def read(self, hint, node: yaml.Node, path: str):
        """The value for `hint` at `node`, or None (after noting why) when it is unusable. A
        mapping or list with unusable parts still comes back, with None in those parts, so that
        checks across keys can look at the rest; only `problems` says whether it is whole."""
        if _is_null(node):
            if type(None) in typing.get_args(hint):
                return None
            return self.problem(node, path, f"is empty (expected {_describe(hint)})")
        hint = strip_none(hint)
        if dataclasses.is_dataclass(hint):
            return self.read_mapping(hint, node, path)
        if typing.get_origin(hint) is tuple:
            return self.read_list(typing.get_args(hint)[0], node, path)
        return self.read_scalar(hint, node, path)

    def read_mapping(self, cls, node, path):
        if not isinstance(node, yaml.MappingNode):
            return self.problem(node, path, f"expected a mapping of {_keys_of(cls)}")
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        hints = typing.get_type_hints(cls)
        values, seen, unreadable, misspelt = {}, set(), set(), {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if self.is_new_key(cls, key, key_node, where, seen):
                before = len(self.lines)
                values[key] = self.read_field(fields[key], hints[key], value_node, where)
                if len(self.lines) > before:
                    unreadable.add(key)
            elif key not in fields and (meant := _closest(key, list(fields))):
                misspelt[meant] = value_node
            seen.add(key)
        for name, f in fields.items():
            if name not in seen and f.default is REQUIRED and f.default_factory is REQUIRED:
                self.problem(node, f"{path}.{name}" if path else name, "missing (it is required)")
                values[name] = None
        value = cls(**values)
        if hasattr(value, "conflict"):
            as_meant = self.read_misspelt(fields, hints, misspelt, values, unreadable)
            self.check_conflict(dataclasses.replace(value, **as_meant), node, path, unreadable)
        return value

    def read_misspelt(self, fields, hints, misspelt, values, unreadable) -> dict:
        """The values of misspelt keys, read quietly as the keys they resemble (where that key
        is not also there); a value that cannot be read as it joins `unreadable`."""
        as_meant = {}
        for name, node in misspelt.items():
            if values.get(name) is None:
                quiet = Reader(self.name)
                as_meant[name] = quiet.read_field(fields[name], hints[name], node, name)
                if quiet.lines:
                    unreadable.add(name)
        return as_meant

    def check_conflict(self, value, node, path: str, unreadable: set[str]) -> None:
        """A rule between a mapping's keys (its `conflict()`), judged beside the mapping's other
        problems and on the keys as they were meant: a misspelt key counts as the key it
        resembles. It is not judged while a key it is about (`conflict_keys`, else all) holds
        a value that could not be read, since that value could be anything."""
        about = getattr(value, "conflict_keys", None) or {f.name for f in dataclasses.fields(value)}
        if unreadable & set(about):
            return
        message = value.conflict()
        if message:
            self.problem(node, path, message)

    def is_new_key(self, cls, key: str, key_node, where: str, seen: set[str]) -> bool:
        """Whether `key` is a key of `cls` not seen before in this mapping; if not, says why."""
        fields = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
        if SECRET_KEY.search(key):
            self.problem(key_node, where, f"not allowed here ({SECRET_HINT})")
        elif key in seen:
            self.problem(key_node, where, "appears twice (expected each key once)")
        elif key not in fields:
            close = _closest(key, fields)
            guess = f"did you mean '{close}'?" if close else f"expected one of {_keys_of(cls)}"
            self.problem(key_node, where, f"unknown key ({guess})")
        else:
            return True
        return False

    def read_field(self, f: dataclasses.Field, hint, node, path):
        """A key's value, or None when it is unusable or fails the key's check."""
        value = self.read(hint, node, path)
        check = f.metadata.get("check")
        expected = check(value) if check and value is not None else None
        if expected:
            return self.problem(node, path, f"{value!r} is not valid (expected {expected})")
        return value

    def read_list(self, item_hint, node, path):
        if not isinstance(node, yaml.SequenceNode):
            return self.problem(node, path, f"expected a list of {_describe(item_hint)}")
        return tuple(
            self.read(item_hint, child, f"{path}[{i}]") for i, child in enumerate(node.value)
        )

    def read_scalar(self, hint, node, path):
        if not isinstance(node, yaml.ScalarNode):
            return self.problem(node, path, f"expected {_describe(hint)}")
        value = self._scalars.construct_object(node)
        if isinstance(value, str) and SENDGRID_KEY.search(value):
            return self.problem(node, path, f"looks like an API key ({SECRET_HINT})")
        if hint is str and not isinstance(value, bool | dict | list):
            return str(value)
        if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if hint is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if hint is bool and isinstance(value, bool):
            return value
        return self.problem(node, path, f"{node.value!r} is not {_describe(hint)}")


def node_at(node: yaml.Node, *path: str | int) -> yaml.Node:
    """The node at a path of mapping keys and list indexes (the deepest one that exists)."""
    for step in path:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
            children = node.value[step : step + 1]
        elif isinstance(node, yaml.MappingNode):
            children = [value for key, value in node.value if key.value == step]
        else:
            children = []
        if not children:
            break
        node = children[0]
    return node


def repeats(keys) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) for each (index, key) whose key occurred before."""
    first: dict[str, int] = {}
    for i, key in keys:
        if key in first:
            yield i, first[key]
        first.setdefault(key, i)


def known(entries: tuple | None, name: str) -> list[tuple[int, typing.Any]]:
    """(index, value) of `name` in each list entry where it was read (and set)."""
    values = ((i, getattr(entry, name, None)) for i, entry in enumerate(entries or ()))
    return [(i, value) for i, value in values if value is not None]


def _closest(key: str, names: list[str]) -> str | None:
    """The name `key` is most likely a misspelling of, if any is close enough."""
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _keys_of(cls) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal"))


def _describe(hint) -> str:
    hint = strip_none(hint)
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {_keys_of(hint)}"
    if typing.get_origin(hint) is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0])}s"
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[hint]
