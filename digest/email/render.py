"""An issue → the email: subject, preheader, MJML, HTML and plain text. The only module that
knows MJML.

Jinja2 templates (the editor's folder first, then the defaults shipped with digest) write MJML
and plain text from one view of the issue (digest.email.view); mjml-python compiles the MJML.
The templates are checked first and the HTML after (digest.email.checks), so a broken or
unsafe email stops here and is never sent. An email over its size budget, measured as Gmail
sees it (digest.email.size), moves its lowest-ranked items to the web archive until it fits.
"""

from __future__ import annotations

import functools
import math
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from digest.core.errors import RenderError
from digest.core.models import Issue
from digest.core.settings import Config
from digest.core.text import fold
from digest.email.checks import check_html, check_templates
from digest.email.mjml_check import check_mjml
from digest.email.size import moved_line, sent_size, size_budget, size_warnings
from digest.email.view import email_context, move_to_archive

HTML_TEMPLATE, TEXT_TEMPLATE = "digest.mjml.j2", "digest.txt.j2"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    mjml: str
    html: str
    text: str
    warnings: tuple[str, ...] = ()  # what a bulk email must have and this one lacks, its size
    size: int = 0  # bytes of the HTML part as Gmail gets it (digest.email.size.sent_size)
    # Items moved to "N more in the archive" to keep under the budget, by theme name.
    moved: dict[str, int] = field(default_factory=dict)
    moved_note: str | None = None  # one line saying so, for build, preview, send and the desk


def default_templates() -> Path:
    """The templates shipped with digest: inside the installed package, or the repository's."""
    package = Path(__file__).parents[1]  # digest/, above this stage
    for folder in (package / "templates", package.parent / "templates"):
        if (folder / HTML_TEMPLATE).is_file():
            return folder
    raise RenderError("the default templates are missing", "reinstall digest")


def template_folders(config: Config, override: Path | None = None) -> list[Path]:
    """Where templates are looked up, in order: --templates, email.templates, the defaults."""
    chosen = override or (
        config.path.parent / config.email.templates if config.email.templates else None
    )
    return [*([chosen] if chosen else []), default_templates()]


def render_email(issue: Issue, config: Config, folders: list[Path]) -> RenderedEmail:
    env = _environment(tuple(folders))
    check_templates(env)
    context = email_context(issue, config)
    budget = size_budget(config)
    before = {theme.name: len(theme.items) for theme in context["themes"]}
    mjml, html = _fitted(
        env, context, lambda html: sent_size(html, config.sending.tracking), budget
    )
    moved = {t.name: before[t.name] - len(t.items) for t in context["themes"] if t.name in before}
    moved = {name: count for name, count in moved.items() if count}
    check_html(html, _owners(context))
    size = sent_size(html, config.sending.tracking)
    text = _render(env, TEXT_TEMPLATE, context)
    note = moved_line(moved, budget, config)
    warnings = _missing(config) + ((note,) if note else ()) + size_warnings(size, budget, config)
    return RenderedEmail(
        context["subject"], context["preheader"], mjml, html, text, warnings, size, moved, note
    )


def _fitted(env: jinja2.Environment, context: dict, measure, budget: int) -> tuple[str, str]:
    """(MJML, HTML): the email compiled, then again with items moved to the archive while
    `measure` of its HTML is over `budget`. `context`'s themes are updated in place, so the
    plain text lists the same items. Each round moves what the overflow is worth at the
    email's average bytes per item (an overestimate of an item's share, so it rarely moves
    more than it must), at least one."""
    mjml, html = _compile(env, context)
    while (size := measure(html)) > budget:
        shown = sum(len(theme.items) for theme in context["themes"]) + len(context["lead"])
        wanted = math.ceil((size - budget) / (size / max(shown, 1))) + 1
        context["themes"], count = move_to_archive(context["themes"], wanted)
        if not count:
            break
        mjml, html = _compile(env, context)
    return mjml, html


def _owners(context: dict) -> dict[str, str]:
    """Each URL the email carries for an item (its link, its image), as written, with the item
    named as the editor knows it: what the HTML check blames for a dangerous URL."""
    owners = {}
    if context["weeknote_url"]:
        owners[context["weeknote_url"]] = "the link to the weeknote"
    items = [*context["lead"], *(item for theme in context["themes"] for item in theme.items)]
    for item in items:
        owners[item.url] = f"the item {item.title!r}"
        if item.image:
            owners[item.image.src] = f"the image of the item {item.title!r}"
    return owners


def _compile(env: jinja2.Environment, context: dict) -> tuple[str, str]:
    mjml = _render(env, HTML_TEMPLATE, context)
    check_mjml(mjml, env.get_template(HTML_TEMPLATE), context)  # mjml2html validates nothing
    try:
        from mjml import mjml2html

        return mjml, mjml2html(mjml, fonts={})
    except ValueError as exc:
        raise RenderError(
            f"the templates produced MJML that does not compile: {exc}",
            "look at the MJML digest preview wrote (issue.mjml) for the broken part",
        ) from None


def _missing(config: Config) -> tuple[str, ...]:
    email, warnings = config.email, []
    if not (email.unsubscribe_group or email.unsubscribe_url):
        warnings.append(
            "the footer has no unsubscribe link: set email.unsubscribe_group (SendGrid) or "
            "email.unsubscribe_url"
        )
    if not config.branding.postal_address:
        warnings.append("the footer has no postal address: set branding.postal_address")
    return tuple(warnings)


@functools.lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    """One environment per templates path, kept: it compiles each template once and again
    only when its file changes."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    return env


def _wrap(text: str, indent: str = "", first: str | None = None, width: int = 72) -> str:
    """Plain text folded at `width` columns; a URL or other long word is never broken."""
    return textwrap.fill(
        fold(str(text)),
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _render(env: jinja2.Environment, name: str, context: dict) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found in the templates folders") from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{_template_line(name)}: {exc.message or exc}") from None


def _template_line(name: str) -> str:
    """The template file and line being rendered when an error was raised: Jinja2 runs
    templates as code whose traceback frames carry the template's file name and line."""
    frame = sys.exc_info()[2]
    where = name
    while frame is not None:
        filename = frame.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}:{frame.tb_lineno}"
        frame = frame.tb_next
    return where
