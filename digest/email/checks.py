"""The last guards before an email goes out: templates that use only MJML's tags and close what
they open (mjml-python would pass anything through), and HTML that cannot run code, submit data
or fetch styles or fonts. Only the attributes that hold URLs are judged for their scheme; the
others are text, escaped as they were written."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
# The attributes whose value a mail app or browser follows as a URL. Every other attribute is
# text (alt, title, aria-label): Jinja2 escaped it, and "JavaScript: the good parts" in one is
# a headline, not a link.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "srcset", "action", "formaction", "background", "poster", "cite", "longdesc"}
    | {"usemap", "lowsrc", "dynsrc", "data", "codebase", "classid", "archive", "profile"}
    | {"manifest", "icon", "ping", "xlink:href"}
)
# Schemes that run code or carry a whole document inside the link.
_RUNNING_SCHEMES = ("javascript:", "vbscript:", "data:")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.I)
# What browsers ignore inside a scheme: "java\nscript:" is still javascript:.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")


def check_html(html: str, owners: Mapping[str, str] | None = None) -> None:
    """Refuse HTML that could run code, submit data, or fetch styles or fonts. `owners` maps a
    URL the email links to (as written in it) to the item it belongs to ("the item 'Title'"),
    so that a refusal blames the item, which the editor can drop, and not the templates."""
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
            _check_attribute(element.tag, name.lower(), value, owners or {})


def _check_attribute(tag: str, name: str, value: str, owners: Mapping[str, str]) -> None:
    if name.startswith("on"):
        raise RenderError(f"the email has an event handler attribute ({name})")
    if name == "style":
        if _FETCHING_CSS.search(value):
            raise RenderError("the email loads a stylesheet or web font; use the system fonts")
        urls = _CSS_URL.findall(value)
    elif name in URL_ATTRIBUTES:
        # srcset lists "URL width" candidates, separated by commas
        urls = (
            [c.split()[0] for c in value.split(",") if c.strip()] if name == "srcset" else [value]
        )
    else:
        return  # text: escaped when it was written, whatever it says
    for url in urls:
        scheme = _running_scheme(url)
        if scheme is None:
            continue
        owner = owners.get(url.strip())
        if owner:
            raise RenderError(
                f"{owner} links to a {scheme} URL, which an email must not carry",
                "drop the item, or give it another url, in the overrides file "
                "(curation.overrides), then preview again",
            )
        raise RenderError(f"the email has a {scheme} URL in {tag}.{name}")


def _running_scheme(url: str) -> str | None:
    """The scheme of `url` when it is one that runs code or carries a document, else None."""
    squeezed = _IGNORED_IN_SCHEME.sub("", url).lower()
    return next((scheme for scheme in _RUNNING_SCHEMES if squeezed.startswith(scheme)), None)
