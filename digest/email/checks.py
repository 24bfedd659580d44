"""The last guards before an email goes out: templates that use only MJML's tags and close what
they open (mjml-python would pass anything through), and HTML that cannot run code, submit data
or fetch styles or fonts."""

from __future__ import annotations

import re

import jinja2

from digest.core.errors import RenderError

# The elements MJML 4 defines; mjml-python would pass any other through silently.
_MJML_ELEMENTS = (
    "head body attributes all class breakpoint font html-attributes html-attribute selector "
    "preview style title accordion accordion-element accordion-title accordion-text button "
    "carousel carousel-image column divider group hero image navbar navbar-link raw section "
    "social social-element spacer table text wrapper"
)
MJML_TAGS = frozenset(["mjml", *(f"mj-{name}" for name in _MJML_ELEMENTS.split())])
_MJ_TAG = re.compile(r"<(/?)(mjml|mj-[\w-]+)\b[^>]*?(/?)>")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def check_templates(env: jinja2.Environment) -> None:
    """Every MJML template uses known tags and closes, in the same file, each tag it opens."""
    problems = []
    for name in env.list_templates(filter_func=lambda n: n.endswith(".mjml.j2")):
        source, filename, _ = env.loader.get_source(env, name)
        problems += _tag_problems(_JINJA_COMMENT.sub(_blank_lines, source), filename)
    if problems:
        raise RenderError("; ".join(problems))


def _blank_lines(match: re.Match) -> str:
    return "\n" * match.group(0).count("\n")  # a comment's lines still count


def _tag_problems(source: str, filename: str) -> list[str]:
    problems: list[str] = []
    open_tags: list[tuple[str, int]] = []
    unknown: set[str] = set()
    for match in _MJ_TAG.finditer(source):
        closing, tag, self_closing = match.groups()
        line = source.count("\n", 0, match.start()) + 1
        if tag not in MJML_TAGS:
            if tag not in unknown:  # once, not again at its closing tag
                problems.append(f"{filename}:{line}: unknown MJML tag <{tag}>")
            unknown.add(tag)
        elif self_closing:
            continue
        elif not closing:
            open_tags.append((tag, line))
        elif not open_tags or open_tags[-1][0] != tag:
            opened = f"<{open_tags[-1][0]}> from line {open_tags[-1][1]}" if open_tags else "none"
            problems.append(f"{filename}:{line}: </{tag}> does not close the open tag ({opened})")
        else:
            open_tags.pop()
    problems += [f"{filename}:{line}: <{tag}> is never closed" for tag, line in open_tags]
    return problems


_FORBIDDEN_TAGS = {"script", "form", "iframe", "frame", "object", "embed", "input", "button"}
# CSS that fetches another stylesheet or a web font. Only styles and comments (Outlook reads the
# markup in its conditional comments) are searched: a feed's text may well mention "@import".
_FETCHING_CSS = re.compile(r"@import|@font-face|fonts\.googleapis\.com", re.I)


def check_html(html: str) -> None:
    """Refuse HTML that could run code, submit data, or fetch styles or fonts."""
    import lxml.html

    root = lxml.html.document_fromstring(html)
    for element in root.iter():
        if not isinstance(element.tag, str):  # a comment or processing instruction
            if _FETCHING_CSS.search(element.text or ""):
                raise RenderError("the email loads a stylesheet or web font; use the system fonts")
            continue
        if element.tag in _FORBIDDEN_TAGS:
            raise RenderError(f"the email contains a <{element.tag}> element, which email forbids")
        if element.tag == "link" and "stylesheet" in element.get("rel", "").lower():
            raise RenderError("the email links an external stylesheet; inline the styles instead")
        if element.tag == "style" and _FETCHING_CSS.search(element.text or ""):
            raise RenderError("the email loads a stylesheet or web font; use the system fonts")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                raise RenderError(f"the email has an event handler attribute ({name})")
            if "javascript:" in re.sub(r"\s", "", value).lower():
                raise RenderError(f"the email has a javascript: URL in {element.tag}.{name}")
            if name == "style" and _FETCHING_CSS.search(value):
                raise RenderError("the email loads a stylesheet or web font; use the system fonts")
