"""`digest preview`: the issue rendered into files an editor can open, and the pages the live
preview server shows. Read-only like `digest build`: nothing here marks anything sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.core.config import load_config
from digest.core.errors import RenderError
from digest.core.files import write_file, write_files
from digest.core.models import Issue, issue_from_dict
from digest.core.settings import Config
from digest.core.store import Store
from digest.curation import curate
from digest.curation.overrides import IssueOverrides, load_overrides
from digest.delivery.approval import Approval, ApprovalError, Approvals, content_hash
from digest.delivery.ledger import IssueRecord, Ledger
from digest.email.render import RenderedEmail, render_email, template_folders
from digest.email.size import shown_issue
from digest.pipeline import Preview, build_issue

# What issue.mjml says for an issue already sent: the ledger keeps the HTML that went out, not
# the MJML it was compiled from.
MJML_NOT_KEPT = "<!-- {id} was sent; its MJML is not kept: issue.html is what went out -->\n"


def make_preview(
    config: Config,
    store: Store,
    now: datetime,
    issue_id: str | None,
    templates: Path | None,
    out: Path | None = None,
) -> Preview:
    """This week's email (or `issue_id`'s): as it went out when the week was sent, else built
    and rendered from the state. When it does not render, issue.mjml is still written to the
    preview folder (`out`, or email.preview_dir)."""
    issue_id = issue_id or curate.issue_id(now, config.newsletter.timezone)
    record = sent_record(store, issue_id)
    if record is not None:
        return sent_preview(record, config)
    issue = build_issue(config, store, now, issue_id)
    try:
        return rendered_preview(issue, config, templates)
    except RenderError as exc:
        if "issue.mjml" in exc.hint:  # the hint sends the editor there: it must exist
            folders = template_folders(config, templates)
            save_unrendered_mjml(issue, config, folders, preview_folder(config, out))
        raise


def rendered_preview(issue: Issue, config: Config, templates: Path | None = None) -> Preview:
    """`issue` rendered, and as its email shows it: the items the email moved to the archive
    to fit its size budget counted over their themes' caps (digest.email.size.shown_issue)."""
    email = render_email(issue, config, template_folders(config, templates))
    return Preview(shown_issue(issue, email.moved), email)


def save_unrendered_mjml(issue: Issue, config: Config, folders: list[Path], folder: Path) -> None:
    """issue.mjml as the templates wrote it, for an email whose MJML did not compile. When
    the templates cannot even be rendered, the error names their line and nothing is written."""
    import jinja2

    from digest.email.render import HTML_TEMPLATE, _environment  # the very environment it failed in
    from digest.email.view import email_context

    template = _environment(tuple(folders)).get_template(HTML_TEMPLATE)
    try:
        mjml = template.render(email_context(issue, config))
    except jinja2.TemplateError:
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder / "issue.mjml", mjml)


def sent_record(store: Store, issue_id: str) -> IssueRecord | None:
    """The ledger's record of `issue_id` when it was sent (a cancelled or unfinished send
    is not: the next send may still rebuild or finish it)."""
    record = Ledger(store).issue(issue_id)
    return record if record is not None and record.status == "sent" else None


def sent_preview(record: IssueRecord, config: Config) -> Preview:
    """The frozen copy of a sent issue: the subject, HTML and text that went out."""
    frozen = record.email
    email = RenderedEmail(
        frozen.subject, "", MJML_NOT_KEPT.format(id=record.id), frozen.html, frozen.text
    )
    return Preview(issue_from_dict(record.issue), email, sent_message(record, config))


def sent_message(record: IssueRecord, config: Config) -> str:
    """'issue 2026-W48 was sent on 27 November 2026 at 08:00; showing what went out', in the
    newsletter's time zone; a scheduled send says when it was delivered."""
    when = datetime.fromisoformat(record.send_at or record.sent_at)
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(
        ZoneInfo(config.newsletter.timezone)
    )
    return (
        f"issue {record.id} was sent on {when.day} {when:%B %Y} at {when:%H:%M}; "
        "showing what went out"
    )


def preview_folder(config: Config, out: Path | None) -> Path:
    return out or config.path.parent / config.email.preview_dir


def save_preview(preview: Preview, folder: Path) -> dict[str, Path]:
    """issue.html, issue.txt, issue.mjml and issue.json in `folder`, all four replaced or
    none (a half-updated set would show one issue's HTML beside another's text); their paths
    by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "html": preview.email.html,
        "txt": preview.email.text,
        "mjml": preview.email.mjml,
        "json": preview.issue.to_json(),
    }
    paths = {kind: folder / f"issue.{kind}" for kind in contents}
    write_files({paths[kind]: text for kind, text in contents.items()})
    return paths


def watched_paths(config: Config, templates: Path | None) -> list[Path]:
    """What the live preview watches: feeds.yaml, the overrides file and the templates."""
    return [config.path, config.overrides_path(), *template_folders(config, templates)]


def page_renderer(
    config_path: Path,
    db_path: Path | None,
    issue_id: str | None,
    templates: Path | None,
    out: Path | None,
    clock: Callable[[], datetime],
) -> Callable:
    """A function the preview server calls after every change: it reads feeds.yaml again,
    rebuilds the issue from the state database (no fetching) as of `clock()`, renders,
    rewrites the files and returns the page to show: the email, what build and render warned
    of, the links the last link check found broken, what the desk needs and the approval."""
    from digest.publish.page import PreviewPage
    from digest.sources.links import cached_results, issue_links

    def render() -> PreviewPage:
        config = load_config(config_path)
        now = clock()
        with Store.open(db_path or config.db_path(), create=False) as store:
            preview = make_preview(config, store, now, issue_id, templates)
            checked = cached_results(issue_links(preview.issue), config, store, now)
            approval = Approvals(store).get(preview.issue.id)
        save_preview(preview, preview_folder(config, out))
        issue, email = preview.issue, preview.email
        sources = tuple(
            (s.name, s.status, s.error or ("stale" if s.stale else "")) for s in issue.sources
        )
        broken = [url for url, result in checked.items() if result.broken]
        return PreviewPage(
            email.subject,
            email.preheader,
            email.html,
            email.text,
            issue.id,
            sources,
            broken_hrefs(email.html, broken),
            warnings=_warnings(preview, checked),
            issue=None if preview.sent else issue,
            overrides=IssueOverrides()
            if preview.sent
            else load_overrides(config.overrides_path(), issue.id, config),
            themes=(*(theme.name for theme in config.themes), config.newsletter.catch_all),
            link_notes=_link_notes(checked),
            approval=approval_note(approval, email),
            sent=preview.sent or "",
        )

    return render


def _warnings(preview: Preview, checked: dict) -> tuple[str, ...]:
    """Everything build and render said, then each broken link with why."""
    broken = [
        f"broken link: {url}: {result.detail or result.outcome}"
        for url, result in checked.items()
        if result.broken
    ]
    return (*preview.issue.warnings, *preview.email.warnings, *broken)


def _link_notes(checked: dict) -> dict[str, str]:
    """What the desk says beside an item of its link: broken and why, or an example link."""
    return {
        url: f"broken: {result.detail or result.outcome}" if result.broken else result.detail
        for url, result in checked.items()
        if result.broken or result.outcome == "example"
    }


def approval_note(approval: Approval | None, email: RenderedEmail) -> str:
    """Who approved what and when, and whether it is the email shown now."""
    if approval is None:
        return ""
    same = approval.hash == content_hash(email.subject, email.html, email.text)
    now = (
        "it is the email shown here"
        if same
        else "the email shown here differs from it: approve again to send this one"
    )
    return (
        f"Approved by {approval.approved_by} at {approval.approved_at}: "
        f"{approval.subject!r}, sha256 {approval.hash[:12]}; {now}."
    )


def approve_issue(
    config: Config,
    store: Store,
    now: datetime,
    issue_id: str | None,
    templates: Path | None,
    by: str,
) -> tuple[Approval, Preview]:
    """digest approve, and the desk's Approve button: this week's issue (or `issue_id`'s)
    rendered from the state as the preview shows it, frozen as the copy its send sends."""
    preview = make_preview(config, store, now, issue_id, templates)
    if preview.sent:
        raise ApprovalError(preview.sent, "a sent issue cannot be approved again")
    shown, least = preview.issue.counts()["shown"], config.sending.min_items
    if shown < least:
        raise ApprovalError(
            f"issue {preview.issue.id} has {shown} items, fewer than sending.min_items "
            f"({least}): its send would send nothing",
            "run digest fetch (or digest preview, which fetches) first, and approve what it shows",
        )
    email = preview.email
    approval = Approvals(store).approve(
        preview.issue, email.subject, email.preheader, email.html, email.text, by, now
    )
    return approval, preview


def broken_hrefs(html: str, broken_urls: list[str]) -> frozenset[str]:
    """The hrefs of the email that point at broken links; the email's carry utm_* tags, so
    they are compared by canonical URL."""
    import html as markup
    import re

    from digest.core.urls import canonical_url

    broken = {canonical_url(url) for url in broken_urls}
    hrefs = {markup.unescape(href) for href in re.findall(r'href="([^"]*)"', html)}
    return frozenset(
        href for href in hrefs if href.startswith("http") and canonical_url(href) in broken
    )
