"""The page of `digest preview --serve`: the email as readers see it, in a frame, with the
editor's desk beside it (digest.publish.desk acts on its requests) and, above both, everything
the editor must know. Every value is escaped here; the email itself is never changed: it is
served apart (/email.html) and nothing of the desk is in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import resources

from digest.core.models import Issue, IssueItem
from digest.core.urls import canonical_url
from digest.curation.overrides import IssueOverrides

# The issue's texts the desk edits, with their labels; empty means "as the build has it".
ISSUE_FIELDS = {
    "subject": "Subject",
    "preheader": "Preheader",
    "intro": "Intro (replaces the weeknote's editorial)",
    "intro_note": "Note above the intro",
}


@dataclass(frozen=True)
class PreviewPage:
    """One rendering of the issue, as the preview server shows it."""

    subject: str
    preheader: str
    html: str  # the email's HTML, complete document
    text: str  # the plain-text part
    issue_id: str
    sources: tuple[tuple[str, str, str], ...]  # (name, status, detail) per source
    broken_links: frozenset[str] = frozenset()  # hrefs to highlight in the preview only
    warnings: tuple[str, ...] = ()  # what build and render said, for the panel
    # For the desk; without an issue (a week already sent) the page has no desk.
    issue: Issue | None = None
    overrides: IssueOverrides = field(default_factory=IssueOverrides)
    themes: tuple[str, ...] = ()  # every theme an item can move to
    link_notes: Mapping[str, str] = field(default_factory=dict)  # item URL → its link's state
    approval: str = ""  # what was approved, and whether this rendering is it
    sent: str = ""  # for a week already sent: when, and that this is what went out


@dataclass(frozen=True)
class Failure:
    message: str
    hint: str
    problems: tuple[str, ...] = ()  # ConfigError's problems, each with its line
    details: str = ""  # a traceback, for an unexpected error


def asset(name: str) -> bytes:
    """The desk's script or style sheet, shipped beside this module."""
    return resources.files("digest.publish").joinpath("assets", name).read_bytes()


def shell_page(page: PreviewPage | None, error: Failure | None, version: int, token: str) -> str:
    title = escape(page.subject) if page else "no email yet"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="desk-token" content="{escape(token)}">
<title>Preview: {title}</title><link rel="stylesheet" href="/desk.css"></head>
<body data-version="{version}">
{_header(page)}
{_panel(page, error)}
<div class="workspace">
{_desk(page)}
{_views(page)}
</div>
{_sources_table(page)}
<script src="/desk.js"></script>
</body></html>
"""


def _header(page: PreviewPage | None) -> str:
    if page is None:
        return "<header><h1>No email yet</h1></header>"
    broken = len(page.broken_links)
    flagged = f" · <strong>{broken} broken link(s) outlined</strong>" if broken else ""
    return f"""<header><h1>{escape(page.subject)}</h1>
<p class="preheader">{escape(page.preheader)}</p>
<p class="meta">Issue {escape(page.issue_id)}{flagged}</p></header>"""


def _panel(page: PreviewPage | None, error: Failure | None) -> str:
    """Every error and warning, listed open: nothing to expand to see one."""
    lines = []
    if error is not None:
        below = "The last good email is shown below." if page else "Nothing has rendered yet."
        lines.append(
            f'<li class="error"><strong>The last render failed:</strong> '
            f"<span class=message>{escape(error.message)}</span>"
            + "".join(f"<br><code>{escape(p)}</code>" for p in error.problems)
            + f'<br><span class="hint">Hint: {escape(error.hint)}</span><br>{below} '
            "Save a file to try again.</li>"
        )
    if page is not None:
        if page.sent:
            lines.append(f'<li class="note">{escape(page.sent)}</li>')
        lines += [f'<li class="warning">{escape(warning)}</li>' for warning in page.warnings]
    count = f"{len(lines)} thing{'s' * (len(lines) != 1)} to know" if lines else "All clear"
    role = ' role="alert"' if error is not None else ""
    details = ""
    if error is not None and error.details:  # a traceback is for a bug report, not the editor
        trace = escape(error.details)
        details = f"<details><summary>Traceback</summary><pre>{trace}</pre></details>"
    return f"""<section class="panel" aria-labelledby="panel-title"{role}>
<h2 id="panel-title">{count}</h2><ul>{"".join(lines)}</ul>{details}</section>"""


def _desk(page: PreviewPage | None) -> str:
    if page is None or page.issue is None:
        return ""
    issue = page.issue
    picks = "".join(_item(item, page) for item in issue.lead)
    themes = "".join(
        f"<section aria-labelledby=theme-{i}><h3 id=theme-{i}>{escape(theme.name)}</h3>"
        f"<ol>{''.join(_item(item, page) for item in (*theme.items, *theme.more) if not item.lead)}"
        "</ol></section>"
        for i, theme in enumerate(issue.themes)
    )
    return f"""<section class="desk" aria-labelledby="desk-title">
<h2 id="desk-title">The editor's desk</h2>
<p class="status" role="status" aria-live="polite"></p>
<div class="actions"><button type="button" data-action="undo">Undo the last change</button></div>
{_approval(page)}
<form class="issue" data-action="issue">{_issue_fields(page)}</form>
<section aria-labelledby="picks-title"><h3 id="picks-title">Editor's picks</h3>
<ol>{picks}</ol></section>
{themes}
{_dropped(page)}
</section>"""


def _approval(page: PreviewPage) -> str:
    said = escape(page.approval) if page.approval else "Not approved yet."
    return f"""<div class="approval"><p>{said}</p>
<button type="button" data-action="approve">Approve this issue</button>
<button type="button" data-action="revoke">Revoke the approval</button></div>"""


def _issue_fields(page: PreviewPage) -> str:
    """The issue's texts: each shows what the email has now; empty gives it back to the build."""
    issue, overrides = page.issue, page.overrides
    now = {
        "subject": page.subject,
        "preheader": page.preheader,
        "intro": overrides.intro or "",
        "intro_note": overrides.intro_note or "",
    }
    rows = []
    for name, label in ISSUE_FIELDS.items():
        control = (
            f'<textarea id="f-{name}" name="{name}" rows="3">{escape(now[name])}</textarea>'
            if name.startswith("intro")
            else f'<input id="f-{name}" name="{name}" value="{escape(now[name])}">'
        )
        rows.append(f'<label for="f-{name}">{label}</label>{control}')
    weeknote = escape(issue.intro) if not overrides.intro else "(replaced)"
    return (
        "".join(rows)
        + f'<p class="meta">The weeknote\'s editorial: {weeknote}</p>'
        + '<button type="submit">Save the subject, preheader and intro</button>'
    )


def _item(item: IssueItem, page: PreviewPage) -> str:
    name = escape(item.title)
    url = escape(item.url)
    pick = (
        f'<button type="button" data-action="unpick" aria-label="Unpick {name}">Unpick</button>'
        if item.lead
        else f'<button type="button" data-action="pick" aria-label="Pick {name}">Pick</button>'
    )
    options = "".join(
        f"<option{' selected' if theme == item.theme else ''}>{escape(theme)}</option>"
        for theme in page.themes
    )
    note = page.link_notes.get(item.url, "")
    state = f' · <span class="link-note">{escape(note)}</span>' if note else ""
    return f"""<li class="item" data-url="{url}">
<form data-action="edit"><label>Title <input name="title" value="{name}"></label>
<label>Blurb <textarea name="blurb" rows="2">{escape(item.blurb)}</textarea></label>
<button type="submit" aria-label="Save the title and blurb of {name}">Save</button></form>
<p class="meta">{escape(item.source)} · <a href="{url}" target="_blank"
 rel="noopener">link</a>{state}</p>
<div class="controls" role="group" aria-label="{name}">{pick}
<button type="button" data-action="up" aria-label="Move {name} up">Up</button>
<button type="button" data-action="down" aria-label="Move {name} down">Down</button>
<select aria-label="Theme of {name}">{options}</select>
<button type="button" data-action="move" aria-label="Move {name} to the chosen theme">Move</button>
<button type="button" data-action="drop" aria-label="Drop {name}">Drop</button></div></li>"""


def _dropped(page: PreviewPage) -> str:
    """The items the overrides file leaves out, this week's and earlier weeks', to restore."""
    this_week = {canonical_url(o.url) for o in page.overrides.items or () if o and o.drop}
    rows = []
    for dropped in page.issue.skipped:
        if dropped.outcome != "dropped":
            continue
        name = escape(dropped.title)
        when = "this week" if canonical_url(dropped.url) in this_week else "in an earlier week"
        rows.append(
            f'<li class="item" data-url="{escape(dropped.url)}">{name} '
            f'<span class="meta">dropped {when}</span> <button type="button" '
            f'data-action="restore" aria-label="Restore {name}">Restore</button></li>'
        )
    if not rows:
        return ""
    return (
        '<section aria-labelledby="dropped-title"><h3 id="dropped-title">Dropped</h3>'
        f"<ul>{''.join(rows)}</ul></section>"
    )


def _views(page: PreviewPage | None) -> str:
    if page is None:
        return ""
    return f"""<section class="email" aria-label="The email">
<nav>
<button data-view="html">HTML</button><button data-view="text">Plain text</button>
<span class="gap"></span>
<button data-width="640">Desktop 640</button><button data-width="375">Mobile 375</button>
</nav>
<div id="html-view"><iframe src="/email.html" title="The email as HTML"
 sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe></div>
<div id="text-view" hidden><pre>{escape(page.text)}</pre></div>
</section>"""


def _sources_table(page: PreviewPage | None) -> str:
    if page is None or not page.sources:
        return ""
    rows = "\n".join(
        f"<tr{' class=failed' if status == 'error' else ''}><td>{escape(name)}</td>"
        f"<td>{escape(status)}</td><td>{escape(detail)}</td></tr>"
        for name, status, detail in page.sources
    )
    failed = sum(status == "error" for _, status, _ in page.sources)
    return f"""<section class="sources"><h2>Sources: {failed} of {len(page.sources)} failed</h2>
<table><tr><th>Source</th><th>Status</th><th>Detail</th></tr>
{rows}
</table></section>"""
