"""`digest preview`: files an editor can open, rendered from a real state database, and never a
change to what was sent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.models import issue_from_dict
from digest.core.store import Store
from digest.pipeline import build_issue
from digest.publish.preview import page_renderer
from tests.resolver import table_resolver
from tests.samples import NOW, cli, local_site, mark_sent

WEEKNOTE = """<html><head><title>Weeknote 48</title></head><body><article><h1>Weeknote 48</h1>
<p>A short week, but a busy one: two reports and a new video pilot to share with you all.</p>
<h2>Inequalities</h2>
<ul><li><a href="https://reports.example/gaps">The widening gaps report</a>, out now.</li></ul>
</article></body></html>"""


def rss_item(path: str, when: datetime) -> str:
    return (
        f"<item><title>Video pilot {path}</title><link>https://partner.example/{path}</link>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A feeds.yaml with a local feed dated before NOW and a local weeknote page."""
    items = rss_item("one", NOW - timedelta(hours=2)) + rss_item("two", NOW - timedelta(days=1))
    return local_site(
        tmp_path, items, WEEKNOTE, "branding:\n  postal_address: 1 Example Street, Northfield\n"
    )


def invoke(*args):
    return cli(*args)


def dump(db_path: Path, tables: tuple[str, ...] | None = None) -> list[str]:
    """Every row of the database (or of some tables) as SQL, to compare before and after."""
    db = sqlite3.connect(db_path)
    try:
        lines = list(db.iterdump())
    finally:
        db.close()
    if tables is None:
        return lines
    return [line for line in lines if any(f'"{table}"' in line for table in tables)]


def test_preview_writes_the_four_files_and_reports(site):
    result = invoke("preview", "-c", site)
    assert result.exit_code == 0, result.output
    folder = site.parent / "preview"
    assert sorted(p.name for p in folder.iterdir()) == [
        "issue.html",
        "issue.json",
        "issue.mjml",
        "issue.txt",
    ]
    html = (folder / "issue.html").read_text(encoding="utf-8")
    assert "The widening gaps report" in html and "Video pilot one" in html
    assert "https://reports.example/gaps" in (folder / "issue.txt").read_text(encoding="utf-8")
    assert "<mj-section" in (folder / "issue.mjml").read_text(encoding="utf-8")
    lines = result.output.splitlines()
    assert lines[0] == "Subject:   The widening gaps report"  # the top story: the lead
    assert lines[1].startswith("Preheader: A short week, but a busy one")
    assert any(line.startswith(f"HTML:      {folder / 'issue.html'} (") for line in lines)
    assert any(line.startswith("Video consultations") for line in lines)
    assert any(line.startswith("Partner ") and " new " in line for line in lines)
    assert "warning:" not in result.output


def test_preview_changes_nothing_a_send_depends_on(site):
    config = load_config(site)
    assert invoke("fetch", "-c", site).exit_code == 0
    with Store.open(config.db_path()) as store:
        from digest.pipeline import build_issue

        last_week = build_issue(config, store, NOW - timedelta(days=7))
        mark_sent(store, last_week, NOW - timedelta(days=6))
    before = dump(config.db_path())
    assert invoke("preview", "-c", site, "--offline").exit_code == 0
    assert dump(config.db_path()) == before  # offline: not one byte of state changed
    sent = ("issues", "issue_items")
    assert invoke("preview", "-c", site).exit_code == 0
    assert dump(config.db_path(), sent) == [
        line for line in before if any(f'"{table}"' in line for table in sent)
    ]


def test_a_broken_template_stops_with_its_file_and_line(site, tmp_path):
    broken = tmp_path / "mine" / "partials"
    broken.mkdir(parents=True)
    (broken / "item.mjml.j2").write_text("<p>{{ item.title }}</p>\n<mj-foo></mj-foo>\n")
    result = invoke("preview", "-c", site, "--templates", tmp_path / "mine")
    assert result.exit_code == 2
    assert "item.mjml.j2:2: unknown MJML tag <mj-foo>" in result.output
    assert "Hint: fix the template" in result.output
    assert not (site.parent / "preview").exists()


def test_missing_unsubscribe_link_is_a_warning(site):
    text = site.read_text().replace(
        "  unsubscribe_url: https://community.example/unsubscribe\n", ""
    )
    site.write_text(text.replace("email:\n", ""))
    result = invoke("preview", "-c", site)
    assert result.exit_code == 0
    assert "warning: the footer has no unsubscribe link" in result.output


def test_open_hands_the_file_to_the_browser(site, tmp_path):
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {"BROWSER": f"{sys.executable} {script} %s", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "digest", "preview", "-c", str(site), "--open"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert opened.read_text() == (site.parent / "preview" / "issue.html").as_uri()


def test_the_live_preview_renders_again_from_the_files(site):
    assert invoke("fetch", "-c", site).exit_code == 0
    render = page_renderer(site, None, None, None, None, lambda: NOW)
    page = render()
    assert page.subject == "The widening gaps report" and "The widening gaps report" in page.html
    assert ("Partner", "new", "") in page.sources
    (site.parent / "overrides.yaml").write_text(
        f"{page.issue_id}:\n  intro: Written by the editor.\n  items:\n"
        "    - url: https://reports.example/gaps\n      title: Gaps, retitled\n",
        encoding="utf-8",
    )
    again = render()
    assert again.preheader == "Written by the editor."
    assert "Gaps, retitled" in again.html and "Gaps, retitled" in again.text
    assert "Gaps, retitled" in (site.parent / "preview" / "issue.html").read_text("utf-8")


def test_the_live_preview_marks_links_the_check_found_broken(site):
    import httpx

    from digest.sources.links import check_links

    # Links on reserved names are never checked: these two sites get names that are not.
    for name in ("weeknote.html", "feed.xml"):
        page = site.parent / name
        page.write_text(page.read_text().replace(".example/", ".example.org/"))
    assert invoke("fetch", "-c", site).exit_code == 0  # local files: no network
    config = load_config(site)
    render = page_renderer(site, None, None, None, None, lambda: NOW)  # reads no linked page
    assert render().broken_links == frozenset()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404 if request.url.path == "/gaps" else 200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    urls = ["https://reports.example.org/gaps", "https://partner.example.org/one"]
    public = table_resolver(
        {host: ["93.184.215.14"] for host in ("reports.example.org", "partner.example.org")}
    )
    with Store.open(config.db_path()) as store:
        check_links(urls, config, store, NOW, client=client, resolver=public)
    (broken,) = render().broken_links
    assert broken.startswith("https://reports.example.org/gaps?utm_source=digest")


# A week already sent


def sent_week(site: Path, when: datetime) -> None:
    """Fetch and build this week's issue, then record it sent at `when` through the ledger
    (its frozen copy: subject 'subject', HTML '<p>html</p>', text 'text')."""
    assert invoke("preview", "-c", site).exit_code == 0
    config = load_config(site)
    with Store.open(config.db_path()) as store:
        mark_sent(store, build_issue(config, store, NOW), when)


def test_preview_of_a_sent_week_shows_what_went_out_and_says_when(site):
    sent_week(site, datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    later = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    result = cli("preview", "-c", site, now=later)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "issue 2026-W48 was sent on 27 November 2026 at 08:00; showing what went out"
    )
    folder = site.parent / "preview"
    assert (folder / "issue.html").read_text(encoding="utf-8") == "<p>html</p>"
    assert (folder / "issue.txt").read_text(encoding="utf-8") == "text"
    assert "was sent; its MJML is not kept" in (folder / "issue.mjml").read_text(encoding="utf-8")
    frozen = json.loads((folder / "issue.json").read_text(encoding="utf-8"))
    assert frozen["id"] == "2026-W48" and frozen["themes"]


def test_issue_option_of_a_sent_week_shows_it_in_the_newsletters_time_zone(site):
    sent_week(site, datetime(2026, 7, 3, 7, 0, tzinfo=UTC))  # 08:00 in London's summer
    next_week = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    result = cli("preview", "-c", site, "--issue", "2026-W48", "--offline", now=next_week)
    assert result.exit_code == 0, result.output
    assert "issue 2026-W48 was sent on 3 July 2026 at 08:00; showing what went out" in (
        result.output
    )
    this_week = cli("preview", "-c", site, "--offline", now=next_week)
    assert "was sent on" not in this_week.output


def test_a_frozen_issue_reads_back_as_the_issue_that_was_built(site):
    assert invoke("preview", "-c", site).exit_code == 0
    config = load_config(site)
    with Store.open(config.db_path()) as store:
        built = build_issue(config, store, NOW)
    assert issue_from_dict(json.loads(built.to_json())) == built


# A headline that mentions JavaScript


def test_a_pick_titled_javascript_previews_and_sends(site):
    """Its title is the image's alt text: a text attribute, escaped, never taken for a URL."""
    headline = "JavaScript: the good parts"
    url = "https://books.jsguide.org/good-parts"
    weeknote = WEEKNOTE.replace(
        "<p>A short week", f'<p>Start with <a href="{url}">{headline}</a>. A short week'
    )
    (site.parent / "weeknote.html").write_text(weeknote, encoding="utf-8")
    text = site.read_text().replace("email:\n", "email:\n  archive_url: https://digest.example\n")
    site.write_text(text + "sending:\n  transport: outbox\nlinks:\n  before_send: false\n")
    config = load_config(site)
    with Store.open(config.db_path()) as store, store.transaction() as db:
        db.execute(
            "INSERT INTO page_heads (url, final_url, title, image, image_width, image_height,"
            " image_alt, fetched_at) VALUES (?, ?, ?, ?, 1200, 630, ?, ?)",
            (url, url, headline, "https://img.jsguide.org/cover.jpg", headline, NOW.isoformat()),
        )
    preview = invoke("preview", "-c", site)
    assert preview.exit_code == 0, preview.output
    html = (site.parent / "preview" / "issue.html").read_text(encoding="utf-8")
    assert f'alt="{headline}"' in html
    assert invoke("subscribers", "add", "ann@example.org", "-c", site).exit_code == 0
    sent = invoke("send", "-c", site)
    assert sent.exit_code == 0, sent.output
    (message,) = (site.parent / "outbox").glob("*.eml")
    assert headline in message.read_text(encoding="utf-8")


# Items moved to the archive to fit the email's size budget


def test_every_command_says_which_items_the_email_moved_to_the_archive(site):
    items = "".join(rss_item(f"story-{n}", NOW - timedelta(minutes=n + 1)) for n in range(30))
    (site.parent / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>{items}</channel></rss>',
        encoding="utf-8",
    )
    text = site.read_text().replace(
        "email:\n", "email:\n  archive_url: https://digest.example\n  size_budget: 20000\n"
    )
    site.write_text(
        text + "curation:\n  per_theme: 30\nsending:\n  transport: outbox\n"
        "links:\n  before_send: false\n"
    )
    build = invoke("build", "-c", site)
    assert build.exit_code == 0, build.output
    (note,) = [line for line in build.output.splitlines() if "moved" in line]
    assert note.startswith("warning: ") and "to keep the email under 20,000 bytes as sent" in note
    moved = int(note.split()[1])
    assert note.endswith(f"(email.size_budget): Video consultations {moved}")
    row = next(line for line in build.output.splitlines() if line.startswith("Video"))
    assert row.split()[2:4] == [str(30 - moved), str(moved)]  # shown, more
    built = json.loads((site.parent / "build" / "2026-W48.json").read_text(encoding="utf-8"))
    (video,) = [theme for theme in built["themes"] if theme["name"] == "Video consultations"]
    assert (len(video["items"]), len(video["more"])) == (30 - moved, moved)

    preview = invoke("preview", "-c", site)
    assert note in preview.output
    assert any(
        line.startswith("Video") and line.split()[2:4] == row.split()[2:4]
        for line in preview.output.splitlines()
    )
    page = page_renderer(site, None, None, None, None, lambda: NOW)()
    assert note.removeprefix("warning: ") in page.warnings

    assert invoke("subscribers", "add", "ann@example.org", "-c", site).exit_code == 0
    dry = invoke("send", "-c", site, "--dry-run")
    assert f"Note: {note.removeprefix('warning: ')}" in dry.output.splitlines()
    sent = invoke("send", "-c", site)
    assert sent.exit_code == 0, sent.output
    assert f"Note: {note.removeprefix('warning: ')}" in sent.output.splitlines()


def test_the_editors_subject_preheader_note_and_a_marked_pick_reach_the_email(site):
    assert invoke("fetch", "-c", site).exit_code == 0
    render = page_renderer(site, None, None, None, None, lambda: NOW)
    before = render()
    assert before.subject == "The widening gaps report"  # the top story
    picks = ["The widening gaps report", "Video pilot one"]  # each theme's top item
    assert _picks(before.html) == picks
    (site.parent / "overrides.yaml").write_text(
        f"{before.issue_id}:\n  items:\n    - url: https://partner.example/two\n      lead: true\n",
        encoding="utf-8",
    )
    marked = render()
    # One more pick, before the build's own; the subject still names the top story.
    assert _picks(marked.html) == ["Video pilot two", *picks]
    assert marked.subject == "The widening gaps report"
    (site.parent / "overrides.yaml").write_text(
        f"{before.issue_id}:\n  subject: Gaps, and a pilot worth copying\n"
        "  preheader: Two reports and a pilot\n  intro_note: A day late, sorry.\n",
        encoding="utf-8",
    )
    written = render()
    assert written.subject == "Gaps, and a pilot worth copying"
    assert written.preheader == "Two reports and a pilot"
    assert "<title>Gaps, and a pilot worth copying</title>" in written.html
    text = written.text
    assert text.index("A day late, sorry.") < text.index("A short week, but a busy one")
    assert written.html.index("A day late, sorry.") < written.html.index("A short week")


def _picks(html: str) -> list[str]:
    from bs4 import BeautifulSoup

    heading = BeautifulSoup(html, "html.parser").find(id="editors-picks")
    return [h3.get_text() for h3 in heading.find_all_next("h3")]
