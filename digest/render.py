"""An issue → the email: subject, preheader, MJML, HTML and plain text. The only module that
knows MJML.

Jinja2 templates (the editor's folder first, then the defaults shipped with digest) write MJML
and plain text from one view of the issue; mjml-python compiles the MJML. mjml-python accepts
anything, so the templates are checked first (known tags, each file closing what it opens) and
the HTML after (no scripts, forms, frames, event handlers, javascript: URLs, stylesheets or web
fonts), so a broken or unsafe email stops here and is never sent.
"""

from __future__ import annotations

import functools
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from digest.config import Config
from digest.errors import RenderError
from digest.models import Issue, IssueItem, IssueTheme
from digest.text import excerpt, fold, long_date, short_date

HTML_TEMPLATE, TEXT_TEMPLATE = "digest.mjml.j2", "digest.txt.j2"
PREHEADER_LIMIT = 90
# Invisible characters after the preheader, so the inbox preview stops there instead of
# running on into the body's text.
PREHEADER_PADDING = "\u034f\u00a0" * 80
FONTS = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
# Light palette with the accent from feeds.yaml, and the dark one for clients in dark mode.
# Every text colour has at least 4.5:1 contrast with the background it sits on.
PALETTE = {"page": "#f3f2f1", "card": "#ffffff", "text": "#1f1f1f", "muted": "#505a5f"}
DARK = {"page": "#121212", "card": "#1e1e1e", "text": "#e8e8e8", "link": "#8cc4ff"}
DARK["muted"] = "#b0b0b0"
# SendGrid replaces these in the message it sends (subscription management, ASM).
ASM_UNSUBSCRIBE = Markup("<%asm_group_unsubscribe_raw_url%>")
ASM_PREFERENCES = Markup("<%asm_preferences_raw_url%>")
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


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    mjml: str
    html: str
    text: str
    warnings: tuple[str, ...] = ()  # what a bulk email must have and this one lacks


def default_templates() -> Path:
    """The templates shipped with digest: inside the installed package, or the repository's."""
    package = Path(__file__).parent
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
    mjml = _render(env, HTML_TEMPLATE, context)
    try:
        from mjml import mjml2html

        html = mjml2html(mjml, fonts={})
    except ValueError as exc:
        raise RenderError(
            f"the templates produced MJML that does not compile: {exc}",
            "look at the MJML digest preview wrote (issue.mjml) for the broken part",
        ) from None
    check_html(html)
    text = _render(env, TEXT_TEMPLATE, context)
    return RenderedEmail(
        context["subject"], context["preheader"], mjml, html, text, _missing(config)
    )


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


def email_context(issue: Issue, config: Config) -> dict:
    """What the templates see: the issue's text, links tagged for analytics, and the footer."""
    branding, email = config.branding, config.email
    when = issue.built_at.astimezone(ZoneInfo(config.newsletter.timezone))
    date = long_date(when)
    top_theme = issue.themes[0].name if issue.themes else ""
    subject = fold(
        config.newsletter.subject.format(
            title=issue.title, date=date, top_theme=top_theme, issue=issue.id
        )
    ).strip(" —-:")
    view_url = f"{email.archive_url.rstrip('/')}/issues/{issue.id}/" if email.archive_url else None
    tag = _tagger(config, issue.id)
    unsubscribe, preferences = email.unsubscribe_url, email.preferences_url
    if email.unsubscribe_group:
        unsubscribe, preferences = ASM_UNSUBSCRIBE, ASM_PREFERENCES
    return {
        "subject": subject,
        "preheader": _preheader(issue),
        "preheader_padding": PREHEADER_PADDING,
        "title": issue.title,
        "date": date,
        "view_url": view_url,
        "intro": issue.intro,
        # A local file (the offline example) is no link for a reader.
        "weeknote_url": _is_web(issue.weeknote_url) and tag(issue.weeknote_url, "intro"),
        "weeknote_title": issue.weeknote_title,
        "themes": [_theme_view(theme, tag, view_url, config) for theme in issue.themes],
        "logo_url": branding.logo_url,
        "logo_alt": branding.logo_alt or issue.title,
        "why": branding.why.format(title=issue.title),
        "footer_text": branding.footer_text,
        "postal_address": branding.postal_address,
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences,
        "palette": {**PALETTE, "accent": branding.accent_colour, "link": branding.accent_colour},
        "dark": DARK,
        "fonts": FONTS,
    }


@dataclass(frozen=True)
class ItemView:
    title: str
    url: str  # tagged for analytics
    source: str
    date: str | None  # "24 Nov", feed items only
    blurb: str


@dataclass(frozen=True)
class ThemeView:
    name: str
    slug: str
    emoji: str | None
    colour: str
    items: list[ItemView]
    more: int  # items over the cap
    more_url: str | None  # the theme on the archive page


def _theme_view(theme: IssueTheme, tag, view_url: str | None, config: Config) -> ThemeView:
    zone = ZoneInfo(config.newsletter.timezone)
    return ThemeView(
        name=theme.name,
        slug=theme.slug,
        emoji=theme.emoji,
        colour=theme.colour or config.branding.accent_colour,
        items=[_item_view(item, tag, theme.slug, zone) for item in theme.items],
        more=len(theme.more),
        more_url=view_url and f"{view_url}#{theme.slug}",
    )


def _item_view(item: IssueItem, tag, slug: str, zone: ZoneInfo) -> ItemView:
    # The day in the newsletter's time zone, like the issue's own date (items are stored in UTC).
    published = item.published and item.published.astimezone(zone)
    return ItemView(
        title=item.title,
        url=tag(item.url, slug),
        source=item.source,
        date=published and short_date(published),
        # A weeknote link's blurb can be its title's own sentence: say it once.
        blurb="" if item.blurb == item.title else item.blurb,
    )


def _is_web(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def _preheader(issue: Issue) -> str:
    if issue.intro:
        return excerpt(fold(issue.intro), PREHEADER_LIMIT)
    return excerpt("In this issue: " + ", ".join(t.name for t in issue.themes), PREHEADER_LIMIT)


def _tagger(config: Config, campaign: str):
    """A function adding utm_* parameters to a link, unless tagging is off or the link has
    utm_* parameters of its own (which are kept as they are, not mixed with ours)."""
    utm = config.email.utm

    def tag(url: str, content: str) -> str:
        parts = urlsplit(url)
        if not utm.enabled or re.search(r"(?:^|&)utm_", parts.query, re.I):
            return url
        ours = urlencode(
            {
                "utm_source": utm.source,
                "utm_medium": utm.medium,
                "utm_campaign": campaign,
                "utm_content": content,
            }
        )
        query = f"{parts.query}&{ours}" if parts.query else ours
        return urlunsplit(parts._replace(query=query))

    return tag


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
