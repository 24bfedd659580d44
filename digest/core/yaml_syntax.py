"""YAML files read into node trees, with syntax errors said plainly.

PyYAML reports a mistake in parser jargon ("could not find expected ':'", "while scanning a
simple key"), often lines below the line where it is: it notices a missing colon on the next
line, and a quote that is never closed where the next quote is. These functions name the line
of the mistake in one sentence an editor can act on. feeds.yaml and overrides.yaml use them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from digest.core.errors import ConfigError


def compose_yaml(path: Path, missing_hint: str) -> yaml.Node | None:
    """The YAML node tree of a file (None when it is empty), or a ConfigError naming the line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, [f"{name}: no such file"], missing_hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, [f"{name}: cannot read it ({exc})"]) from None
    try:
        root = yaml.compose(text, Loader=FAST_LOADER)
        problem = _runaway_quote(text) if _quote_spans_lines(root) else None
    except yaml.YAMLError:
        root, problem = None, _problem(text)
    if problem is None:
        return root
    line, message = problem
    raise ConfigError(name, [f"{name}:{line}: {message}"])


# libyaml when PyYAML was built with it: PyYAML's own parser takes a quarter of a second over a
# feeds.yaml of 100 feeds, which every command pays. Mistakes are explained with PyYAML's own
# parser, whose messages and marks the explanations read.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _problem(text: str) -> tuple[int, str] | None:
    """(line, problem) of a file the fast parser refused, from PyYAML's own parser."""
    try:
        runaway = _runaway_quote(text)
        if runaway is None:
            yaml.compose(text, Loader=yaml.SafeLoader)  # raises where the fast parser did
    except yaml.YAMLError as exc:
        return _syntax_problem(exc, text)
    return runaway


def _quote_spans_lines(node: yaml.Node | None) -> bool:
    """Whether a quoted value of the tree runs over several lines: only then is it worth looking
    for a quote that was never closed (_runaway_quote scans the whole file again)."""
    if isinstance(node, yaml.ScalarNode):
        return node.style in ("'", '"') and node.start_mark.line != node.end_mark.line
    if isinstance(node, yaml.SequenceNode):
        return any(_quote_spans_lines(child) for child in node.value)
    if isinstance(node, yaml.MappingNode):
        return any(_quote_spans_lines(k) or _quote_spans_lines(v) for k, v in node.value)
    return False


MISSING_COLON = "this line is not a 'key: value' pair (is a colon missing?)"
UNCLOSED_QUOTE = "the quote opened here is never closed (expected a closing {} on the same line)"
TAB = "this line has a tab where YAML allows only spaces (use spaces)"
RESERVED = "a value cannot start with {} (expected the whole value in quotes)"
CLOSING = {"[": "]", "{": "}"}
KEY_START = re.compile(r" *(?:- +)?")  # where a line's key starts: after spaces and a list dash
KEY_LINE = re.compile(KEY_START.pattern + r"[\w.-]+:(?:\s|$)")


def _runaway_quote(text: str) -> tuple[int, str] | None:
    """(line, problem) for a quoted value whose closing quote is missing. A quoted value may span
    lines, so PyYAML reads on to the next quote and fails lines later, or parses the file and
    the keys the value swallowed come back as missing."""
    lines = text.splitlines()
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.ScalarToken) and _ran_away(token, lines):
            return token.start_mark.line + 1, UNCLOSED_QUOTE.format(token.style)
    return None


def _ran_away(token: yaml.ScalarToken, lines: list[str]) -> bool:
    """Whether a quoted value spans lines that look like keys of its mapping or an outer one,
    or has more text after the quote that closed it: a later value's opening quote did."""
    first, last = token.start_mark.line, token.end_mark.line
    if token.style not in ("'", '"') or first == last:
        return False
    after = lines[last][token.end_mark.column :].strip()
    column = KEY_START.match(lines[first]).end()
    return bool(after and after[0] not in "#,]}") or any(
        KEY_LINE.match(line) and KEY_START.match(line).end() <= column
        for line in lines[first + 1 : last + 1]
    )


def _syntax_problem(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """(line, one plain sentence) for PyYAML's error, at the line of the mistake, which is
    often above the place PyYAML noticed it."""
    lines = text.splitlines()
    if isinstance(exc, yaml.reader.ReaderError):
        line, code = text.count("\n", 0, exc.position) + 1, exc.character
        return (
            line,
            f"this line has a control character YAML does not allow (#x{code:02x}; remove it)",
        )
    problem, context = exc.problem or "", exc.context or ""
    noticed, opened = exc.problem_mark, exc.context_mark
    if problem == "could not find expected ':'":
        return _line(opened, lines), MISSING_COLON
    if context == "while scanning a quoted scalar":
        return _line(opened, lines), UNCLOSED_QUOTE.format(_char_at(opened, lines))
    if "flow" in context:  # inside [ … ] or { … }
        return _flow_problem(noticed, opened, lines)
    if problem.endswith("that cannot start any token"):
        char = _char_at(noticed, lines)
        return _line(noticed, lines), TAB if char == "\t" else RESERVED.format(char)
    if problem.startswith("expected '<document start>'"):  # a later line is left of the first
        first = _first_filled(range(len(lines)), lines) or 0
        return first + 1, (
            "the file's first line is indented more than the lines after it "
            "(expected top-level keys at the start of the line)"
        )
    if problem == "mapping values are not allowed here":
        return _stray_colon(noticed, lines)
    if problem.startswith("expected <block end>"):
        return _misplaced(noticed, lines, problem)
    reason = problem if context.startswith("while") else ", ".join(filter(None, (context, problem)))
    reason = reason.replace("'<stream end>'", "the end of the file")
    return _line(noticed or opened, lines), f"this line is not valid YAML ({reason})"


def _flow_problem(noticed: yaml.Mark, opened: yaml.Mark, lines: list[str]) -> tuple[int, str]:
    bracket = _char_at(opened, lines)
    if bracket not in CLOSING:  # the file ended right after a [ or a comma: no bracket named
        message = "a [ or { on this line or above is never closed (expected a closing ] or })"
        return _line(noticed, lines), message
    return _line(opened, lines), (
        f"the {bracket} opened here is never closed properly "
        f"(expected items separated by ', ' and a closing {CLOSING[bracket]})"
    )


def _stray_colon(noticed: yaml.Mark, lines: list[str]) -> tuple[int, str]:
    """PyYAML's 'mapping values are not allowed here': a ': ' inside a value, a line above
    without its colon, which ran on into this line's key, or a key indented under a value."""
    if lines[noticed.line].find(":") < noticed.column:
        return noticed.line + 1, "this value contains ': ' (expected the whole value in quotes)"
    above = _colon_missing_above(noticed.line, lines)
    if above is not None:
        return above + 1, MISSING_COLON
    return noticed.line + 1, (
        "this key is indented more than the key above it "
        "(expected it to line up with its sibling keys)"
    )


def _misplaced(noticed: yaml.Mark, lines: list[str], problem: str) -> tuple[int, str]:
    """PyYAML's 'expected <block end>, but found …': something where the block should end."""
    found = problem.rsplit("found ", 1)[-1]
    above = _colon_missing_above(noticed.line, lines)
    if lines[noticed.line][: noticed.column].rstrip().endswith(("'", '"')):
        message = (
            "there is text after the closing quote "
            "(quote the whole value; inside '…' write an apostrophe as '')"
        )
    elif found == "'<block mapping start>'" and above is not None:
        return above + 1, MISSING_COLON  # a value, so this key below it is too deep
    elif found == "'-'":
        message = "a list item where a 'key: value' line was expected (is it under the right key?)"
    elif found == "'?'":
        message = "a 'key: value' line where a list item was expected (is a '- ' missing?)"
    else:
        message = (
            "this line is indented unlike the lines above it "
            "(expected it to line up with its sibling keys or list items)"
        )
    return noticed.line + 1, message


def _colon_missing_above(index: int, lines: list[str]) -> int | None:
    """The index of the nearest line above `index` if it is not a key line (no colon)."""
    above = _first_filled(range(index - 1, -1, -1), lines)
    return above if above is not None and not KEY_LINE.match(lines[above]) else None


def _first_filled(indexes, lines: list[str]) -> int | None:
    """The first of `indexes` whose line holds something other than a comment."""
    return next((i for i in indexes if lines[i].strip()[:1] not in ("", "#")), None)


def _line(mark: yaml.Mark | None, lines: list[str]) -> int:
    """The 1-based line of a mark; a mistake noticed at the end of the file is on its last line."""
    return min(mark.line + 1, max(len(lines), 1)) if mark else 1


def _char_at(mark: yaml.Mark, lines: list[str]) -> str:
    line = lines[mark.line] if mark.line < len(lines) else ""
    return line[mark.column : mark.column + 1]
