"""What MJML's strict validation would say about the MJML the templates wrote.

mjml-python compiles whatever it is given: an attribute it does not know (`colour=`), a value
it cannot use (`padding="12"`, `align="middle"`) or a column outside a section is dropped or
laid out wrongly, and the email still "renders". Official MJML refuses those in strict mode;
this module applies the same rules, for the components digest's and editors' templates use:
the attributes each accepts and the type of each value (after mjml-validator's types: colour,
a number with one of the allowed units, one of a list of words, true/false), and which tag may
sit inside which. Components not listed (mj-hero, mj-accordion, mj-carousel…) are only checked
for where they sit.

A problem is found in the rendered MJML; the template file and line that wrote it come from a
second rendering in which every line of template text carries an invisible mark naming its
file and line (a Jinja2 extension adds them), so even a partial included in a loop is named.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass, field

import jinja2
import jinja2.ext
from jinja2.lexer import Token

from digest.core.errors import RenderError

PADDING = {"padding": "unit(px,%){1,4}"} | {
    f"padding-{side}": "unit(px,%)" for side in ("top", "bottom", "left", "right")
}
BORDER = {"border": "string", "border-radius": "string"} | {
    f"border-{side}": "string" for side in ("top", "bottom", "left", "right")
}
FONT = {
    "color": "color",
    "font-family": "string",
    "font-size": "unit(px)",
    "font-style": "string",
    "font-weight": "string",
    "line-height": "unit(px,%,)",  # the empty unit: a bare 1.5 is a line height too
    "letter-spacing": "unitWithNegative(px,em)",
    "text-decoration": "string",
    "text-transform": "string",
}
ALIGN = "enum(left,center,right)"
VERTICAL = "enum(top,middle,bottom)"
LINK = {"href": "string", "rel": "string", "target": "string", "title": "string", "name": "string"}
BOX = {"container-background-color": "color", **PADDING}
BACKGROUND = {
    "background-color": "color",
    "background-url": "string",
    "background-repeat": "enum(repeat,no-repeat)",
    "background-size": "string",
    "background-position": "string",
    "background-position-x": "string",
    "background-position-y": "string",
}
SECTION = {
    **BACKGROUND,
    **BORDER,
    **PADDING,
    "direction": "enum(ltr,rtl)",
    "full-width": "enum(full-width,false,)",
    "text-align": ALIGN,
}
# The attributes each component accepts (css-class and mj-class are accepted everywhere).
ATTRIBUTES: dict[str, dict[str, str]] = {
    "mjml": {"lang": "string", "dir": "string", "owa": "string"},
    "mj-head": {},
    "mj-body": {"width": "unit(px)", "background-color": "color"},
    "mj-section": SECTION,
    "mj-wrapper": {**SECTION, "gap": "unit(px)"},
    "mj-group": {
        "width": "unit(px,%)",
        "vertical-align": VERTICAL,
        "background-color": "color",
        "direction": "enum(ltr,rtl)",
    },
    "mj-column": {
        "background-color": "color",
        "inner-background-color": "color",
        **BORDER,
        **{f"inner-{name}": kind for name, kind in BORDER.items()},
        **PADDING,
        "width": "unit(px,%)",
        "vertical-align": VERTICAL,
        "direction": "enum(ltr,rtl)",
    },
    "mj-text": {
        **FONT,
        **BOX,
        "align": "enum(left,right,center,justify)",
        "background-color": "color",
        "height": "unit(px,%)",
        "vertical-align": VERTICAL,
    },
    "mj-button": {
        **FONT,
        **BOX,
        **BORDER,
        **LINK,
        "align": ALIGN,
        "background-color": "color",
        "height": "unit(px,%)",
        "width": "unit(px,%)",
        "inner-padding": "unit(px,%){1,4}",
        "text-align": ALIGN,
        "vertical-align": VERTICAL,
    },
    "mj-image": {
        **BOX,
        **LINK,
        **{name: "string" for name in BORDER if name != "border-radius"},
        "alt": "string",
        "src": "string",
        "srcset": "string",
        "sizes": "string",
        "usemap": "string",
        "align": ALIGN,
        "border-radius": "unit(px,%){1,4}",
        "fluid-on-mobile": "boolean",
        "font-size": "unit(px)",
        "width": "unit(px)",
        "height": "unit(px,auto)",
        "max-height": "unit(px,%)",
    },
    "mj-divider": {
        **BOX,
        "border-color": "color",
        "border-style": "string",
        "border-width": "unit(px)",
        "width": "unit(px,%)",
        "align": ALIGN,
    },
    "mj-spacer": {**BOX, **BORDER, "height": "unit(px,%)"},
    "mj-table": {
        **FONT,
        **BOX,
        "align": ALIGN,
        "border": "string",
        "cellpadding": "integer",
        "cellspacing": "integer",
        "role": "enum(none,presentation)",
        "table-layout": "enum(auto,fixed,initial,inherit)",
        "width": "unit(px,%,auto)",
    },
    "mj-raw": {"position": "enum(file-start)"},
    "mj-social": {
        **FONT,
        **BOX,
        "align": ALIGN,
        "border-radius": "unit(px,%)",
        "icon-height": "unit(px,%)",
        "icon-size": "unit(px,%)",
        "inner-padding": "unit(px,%){1,4}",
        "mode": "enum(horizontal,vertical)",
        "table-layout": "enum(auto,fixed)",
        "text-padding": "unit(px,%){1,4}",
        "vertical-align": VERTICAL,
    },
    "mj-social-element": {
        **FONT,
        **LINK,
        **PADDING,
        "align": ALIGN,
        "alt": "string",
        "background-color": "color",
        "border-radius": "unit(px,%)",
        "icon-height": "unit(px,%)",
        "icon-size": "unit(px,%)",
        "icon-padding": "unit(px,%){1,4}",
        "icon-position": "enum(left,right)",
        "text-padding": "unit(px,%){1,4}",
        "src": "string",
        "srcset": "string",
        "sizes": "string",
        "vertical-align": VERTICAL,
    },
    "mj-navbar": {
        "align": ALIGN,
        "base-url": "string",
        "hamburger": "string",
        "ico-align": ALIGN,
        "ico-open": "string",
        "ico-close": "string",
        "ico-color": "color",
        "ico-font-family": "string",
        "ico-font-size": "unit(px,%)",
        "ico-line-height": "unit(px,%,)",
        "ico-text-decoration": "string",
        "ico-text-transform": "string",
        **{f"ico-{name}": kind for name, kind in PADDING.items()},
    },
    "mj-navbar-link": {**FONT, **LINK, **PADDING},
    "mj-attributes": {},
    "mj-style": {"inline": "enum(inline)"},
    "mj-preview": {},
    "mj-title": {},
    "mj-font": {"name": "string", "href": "string"},
    "mj-breakpoint": {"width": "unit(px)"},
}
EVERYWHERE = {"css-class": "string", "mj-class": "string"}
ANY_COMPONENT = {name for name in ATTRIBUTES if name not in ("mjml", "mj-head", "mj-attributes")}
CONTENT = (
    "mj-accordion",
    "mj-button",
    "mj-carousel",
    "mj-divider",
    "mj-image",
    "mj-navbar",
    "mj-raw",
    "mj-social",
    "mj-spacer",
    "mj-table",
    "mj-text",
)
# Which tags may sit directly inside each container; a tag in none of these is not checked.
CHILDREN: dict[str, tuple[str, ...]] = {
    "mjml": ("mj-head", "mj-body", "mj-raw"),
    "mj-head": (
        "mj-attributes",
        "mj-breakpoint",
        "mj-font",
        "mj-html-attributes",
        "mj-preview",
        "mj-raw",
        "mj-style",
        "mj-title",
    ),
    "mj-body": ("mj-section", "mj-wrapper", "mj-hero", "mj-raw"),
    "mj-wrapper": ("mj-section", "mj-hero", "mj-raw"),
    "mj-section": ("mj-column", "mj-group", "mj-raw"),
    "mj-group": ("mj-column", "mj-raw"),
    "mj-column": CONTENT,
    "mj-hero": CONTENT,
    "mj-social": ("mj-social-element", "mj-raw"),
    "mj-navbar": ("mj-navbar-link", "mj-raw"),
    "mj-attributes": ("mj-all", "mj-class", *sorted(ANY_COMPONENT)),
}
# Their content is HTML or text, not MJML: it is not searched for tags.
ENDING_TAGS = (
    "mj-text",
    "mj-button",
    "mj-table",
    "mj-raw",
    "mj-style",
    "mj-title",
    "mj-preview",
    "mj-navbar-link",
    "mj-social-element",
    "mj-accordion-title",
    "mj-accordion-text",
)

_TAG = re.compile(r"<!--.*?-->|<(/?)(mjml|mj-[\w-]+)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>", re.S)
_ATTRIBUTE = re.compile(r"([^\s=/]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
_UNIT_SPEC = re.compile(r"(unit|unitWithNegative)\(([^)]*)\)(?:\{(\d),(\d)\})?")
_COLOUR = re.compile(
    r"#[0-9a-f]{3}|#[0-9a-f]{6}|#[0-9a-f]{8}|rgba?\([\d\s.,%]+\)|[a-z]+", re.IGNORECASE
)
# Marks the traced rendering puts before each line of template text: file, then line number.
MARK, MARK_END = "\ue000", "\ue001"
_MARKED = re.compile(f"{MARK}([^{MARK_END}]*){MARK_END}")


@dataclass
class _Tag:
    name: str
    start: int  # offset in the rendered MJML
    attributes: dict[str, str] = field(default_factory=dict)


def check_mjml(mjml: str, template: jinja2.Template, context: dict) -> None:
    """RenderError listing every problem in `mjml`, which `template` rendered from `context`,
    each with the template file and line that wrote it; nothing when the MJML is sound."""
    problems = mjml_problems(mjml)
    if not problems:
        return
    try:
        located = _traced_problems(template, context)
    except jinja2.TemplateError:
        located = []
    if not located:  # the marks could not be followed: name the rendered line instead
        located = [
            f"{template.name}, rendered line {mjml.count(chr(10), 0, offset) + 1}: {text}"
            for offset, text in problems
        ]
    raise RenderError("; ".join(located))


def mjml_problems(mjml: str) -> list[tuple[int, str]]:
    """(offset in `mjml`, problem) for each attribute, value and nesting MJML would refuse."""
    problems: list[tuple[int, str]] = []
    parents: list[_Tag] = []
    position = 0
    while match := _TAG.search(mjml, position):
        position = match.end()
        closing, name, attributes, self_closing = match.groups()
        if name is None:  # a comment
            continue
        if closing:
            while parents and parents.pop().name != name:
                continue
            continue
        tag = _Tag(name, match.start(), dict(_ATTRIBUTE.findall(attributes)))
        parent = parents[-1].name if parents else None
        problems += [(tag.start, text) for text in _tag_problems(tag, parent)]
        if self_closing:
            continue
        if name in ENDING_TAGS:
            end = mjml.find(f"</{name}>", position)
            position = len(mjml) if end < 0 else end + len(name) + 3
        else:
            parents.append(tag)
    return problems


def _tag_problems(tag: _Tag, parent: str | None) -> list[str]:
    problems = []
    allowed = CHILDREN.get(parent or "", ())
    if parent is None and tag.name != "mjml":
        problems.append(f"<{tag.name}> is outside <mjml>")
    elif parent in CHILDREN and tag.name not in allowed:
        problems.append(f"<{tag.name}> cannot be inside <{parent}>{_where_it_goes(tag.name)}")
    if parent == "mj-attributes":
        everything = tag.name in ("mj-all", "mj-class")
        known = _any_attribute() if everything else ATTRIBUTES.get(tag.name)
        extra = {"name": "string"} if tag.name == "mj-class" else {}
        return problems + _attribute_problems(tag, known, extra)
    return problems + _attribute_problems(tag, ATTRIBUTES.get(tag.name), {})


def _where_it_goes(name: str) -> str:
    homes = [parent for parent, children in CHILDREN.items() if name in children]
    homes = [home for home in homes if home != "mj-attributes"]
    return f" (expected inside {' or '.join(f'<{home}>' for home in homes)})" if homes else ""


def _any_attribute() -> dict[str, str]:
    """mj-all and mj-class set attributes for every component; each must exist somewhere."""
    merged: dict[str, str] = {}
    for attributes in ATTRIBUTES.values():
        for name, kind in attributes.items():
            merged[name] = kind if merged.get(name, kind) == kind else "string"
    return merged


def _attribute_problems(tag: _Tag, known: dict[str, str] | None, extra: dict) -> list[str]:
    """Unknown attributes and values of the wrong type; `known` None: a tag not covered."""
    if known is None:
        return []
    known = {**known, **extra, **EVERYWHERE}
    problems = []
    for name, quoted in tag.attributes.items():
        value = quoted[1:-1] if quoted[:1] in ("'", '"') else quoted
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
            guess = f"did you mean {close[0]}?" if close else "see the MJML documentation"
            problems.append(f"<{tag.name}> has no attribute {name}= ({guess})")
        elif not quoted:
            problems.append(f"<{tag.name}> attribute {name}= has no value")
        elif expected := _value_problem(known[name], value):
            problems.append(f"<{tag.name} {name}={value!r}>: expected {expected}")
    return problems


def _value_problem(kind: str, value: str) -> str | None:
    """What `value` should look like for an attribute of type `kind`, or None when it does."""
    if kind == "string":
        return None
    if kind == "color":
        return None if _COLOUR.fullmatch(value) else "a colour such as #1d70b8 or rgb(0,0,0)"
    if kind == "boolean":
        return None if value in ("true", "false") else "true or false"
    if kind == "integer":
        return None if value.isdigit() else "a whole number"
    if kind.startswith("enum("):
        choices = kind[5:-1].split(",")
        return None if value in choices else "one of " + ", ".join(c or '""' for c in choices)
    return _unit_problem(kind, value)


def _unit_problem(kind: str, value: str) -> str | None:
    """mjml-validator's unit type: 1 (or up to 4) numbers, each with one of the units; 0 and,
    where allowed, auto need none."""
    negative, units, least, most = _UNIT_SPEC.fullmatch(kind).groups()
    units = units.split(",")
    words = [u for u in units if u.isalpha() and u not in ("px", "em")] + ["0"]
    suffix = "|".join(re.escape(u) for u in units if u not in words)
    number = r"-?[\d.]+" if negative == "unitWithNegative" else r"[\d.]+"
    single = rf"{number}(?:{suffix})|{'|'.join(words)}"
    count = range(int(least or 1), int(most or 1) + 1)
    parts = value.split()
    if len(parts) in count and all(re.fullmatch(single, part) for part in parts):
        return None
    shown = " or ".join(u or "no unit" for u in units)
    many = f"{count.start} to {count.stop - 1} values, each" if len(count) > 1 else "a number"
    return f"{many} with {shown} (like 12px)"


class _LineMarks(jinja2.ext.Extension):
    """Puts a mark naming the template file and line before every line of template text."""

    def filter_stream(self, stream):
        where = stream.filename or stream.name
        for token in stream:
            if token.type != "data":
                yield token
                continue
            lines = token.value.split("\n")
            marked = "\n".join(
                f"{MARK}{where}:{token.lineno + i}{MARK_END}{text}" for i, text in enumerate(lines)
            )
            yield Token(token.lineno, "data", marked)


def _traced_problems(template: jinja2.Template, context: dict) -> list[str]:
    """The problems of the MJML, each with the template line that wrote it: the template is
    rendered again, marked, and each problem takes the last mark before it."""
    # cache_size=0: the overlay must compile the templates again, with the marks.
    traced = template.environment.overlay(extensions=[_LineMarks], cache_size=0)
    marked = traced.get_template(template.name).render(context)
    text, starts, origins = [], [], []
    position, length = 0, 0
    for match in _MARKED.finditer(marked):
        text.append(marked[position : match.start()])
        length += match.start() - position
        starts.append(length)
        origins.append(match.group(1))
        position = match.end()
    text.append(marked[position:])
    problems = mjml_problems("".join(text))
    return [
        f"{origins[max(bisect.bisect_right(starts, offset) - 1, 0)]}: {problem}"
        for offset, problem in problems
    ]
