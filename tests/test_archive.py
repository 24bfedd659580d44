"""`digest archive`: the static web archive built from a real SQLite ledger.

The ledger holds three published issues (W45, W46, and W47, a scheduled send whose time has
passed), a cancelled one (W48) and one scheduled for after `NOW` (W49); neither of the last two
may appear anywhere. Pages are read back with BeautifulSoup, the feed with feedparser and lxml.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from lxml import etree

from digest.cli import DigestGroup, main
from digest.cli.archive import archive
from digest.core.models import Issue, IssueItem, IssueTheme
from digest.core.settings import Config, EmailSettings, Newsletter, Theme
from digest.core.store import Store
from digest.core.text import plural
from digest.curation.curate import slug
from digest.delivery.ledger import Ledger
from digest.delivery.message import FrozenEmail
from digest.publish.archive import (
    ATOM,
    ArchiveWriteError,
    MissingArchiveUrl,
    SiteReport,
    build_site,
)
from tests.samples import NOW, OUTBOX, cli, config_text

ARCHIVE = "https://community.example/digest"  # with a path: links must keep it
TITLE = "Community Health Weekly"
HEALTH, VIDEO, CARE = "Health inequalities", "Digital care & video consultations", "Social care"
WEEKNOTE = "https://community.example/weeknotes/47"
# (id, sent, send_at, themes as name -> (shown, more)) of the published issues, oldest first.
PUBLISHED = (
    ("2026-W45", datetime(2026, 11, 4, 9, tzinfo=UTC), None, {HEALTH: (2, 0), CARE: (1, 0)}),
    ("2026-W46", datetime(2026, 11, 11, 9, tzinfo=UTC), None, {HEALTH: (2, 2), VIDEO: (2, 0)}),
    # Scheduled: accepted on the 16th, delivered on the 18th, which is its date.
    (
        "2026-W47",
        datetime(2026, 11, 16, 9, tzinfo=UTC),
        datetime(2026, 11, 18, 8, tzinfo=UTC),
        {VIDEO: (1, 3), HEALTH: (1, 0)},
    ),
)
CLI = DigestGroup(
    name="digest",
    params=main.params,
    callback=main.callback,
    commands={**main.commands, "archive": archive},
    context_settings=main.context_settings,
)


# Issues, the ledger and the site ---------------------------------------------------------------


def make_item(issue_id: str, theme: str, n: int, **changes) -> IssueItem:
    url = f"https://partner.example/{issue_id}/{slug(theme)}/{n}"
    item = IssueItem(
        url=url,
        canonical_url=url,
        title=f"{issue_id} {theme} story {n}",
        blurb=f"What happened in story {n}.",
        source="Partner news",
        origin="feed",
        theme=theme,
        reason="keyword",
        published=datetime(2026, 11, 3, 10, tzinfo=UTC),
    )
    return dataclasses.replace(item, **changes)


def make_issue(issue_id: str, themes: dict[str, tuple[int, int]], **changes) -> Issue:
    sections = []
    for name, (shown, more) in themes.items():
        items = [make_item(issue_id, name, n) for n in range(shown + more)]
        sections.append(IssueTheme(name, slug(name), tuple(items[:shown]), tuple(items[shown:])))
    issue = Issue(
        id=issue_id,
        title=TITLE,
        built_at=NOW,
        window_start=NOW - timedelta(days=7),
        window_end=NOW,
        intro=f"The intro of {issue_id}.",
        weeknote_title=None,
        weeknote_url=None,
        themes=tuple(sections),
        sources=(),
        warnings=(),
        skipped=(),
    )
    return dataclasses.replace(issue, **changes)


def send(store: Store, issue: Issue, when: datetime, send_at: datetime | None = None) -> None:
    """Record `issue` as sent at `when` through the ledger, as digest send does."""
    ledger = Ledger(store)
    email = FrozenEmail(f"Weekly: {issue.id}", "<p>html</p>", "text")
    ledger.start(issue, email, [("a@x.org", None)], 1, when, OUTBOX, send_at=send_at)
    (batch,) = ledger.batches(issue.id)
    assert ledger.accept(batch, "message-1", when)


def make_config(tmp_path: Path, timezone: str = "Europe/London", **email) -> Config:
    return Config(
        newsletter=Newsletter(
            title=TITLE,
            website="https://community.example",
            sender="Community Health <digest@community.example>",
            timezone=timezone,
        ),
        themes=(Theme(name=HEALTH),),
        email=EmailSettings(**{"archive_url": ARCHIVE, **email}),
        path=tmp_path / "feeds.yaml",
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "state.db") as opened:
        for issue_id, sent, send_at, themes in PUBLISHED:
            changes = {"weeknote_url": WEEKNOTE, "weeknote_title": "Weeknote 47"}
            issue = make_issue(issue_id, themes, **(changes if issue_id == "2026-W47" else {}))
            send(opened, issue, sent, send_at)
        send(opened, make_issue("2026-W48", {HEALTH: (2, 0), "Cancelled": (1, 0)}), NOW)
        Ledger(opened).cancel("2026-W48", NOW)
        later = make_issue("2026-W49", {HEALTH: (1, 0), "Scheduled": (1, 0)})
        send(opened, later, NOW - timedelta(hours=1), send_at=NOW + timedelta(days=2))
        yield opened


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def site(tmp_path, config, store) -> Path:
    build_site(config, store, NOW, tmp_path / "site")
    return tmp_path / "site"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def page(site: Path, name: str) -> BeautifulSoup:
    return BeautifulSoup((site / name).read_text(encoding="utf-8"), "lxml")


def texts(elements) -> list[str]:
    return [" ".join(element.get_text(" ").split()) for element in elements]


# The files --------------------------------------------------------------------------------------


def test_the_site_has_its_files_at_stable_paths_and_nothing_unpublished(site):
    assert set(snapshot(site)) == {
        "index.html",
        "feed.xml",
        "style.css",
        "issues/2026-W45/index.html",
        "issues/2026-W46/index.html",
        "issues/2026-W47/index.html",
        "themes/health-inequalities/index.html",
        "themes/digital-care-and-video-consultations/index.html",
        "themes/social-care/index.html",
    }
    everything = b"".join(snapshot(site).values())
    for unpublished in (b"2026-W48", b"2026-W49", b"Cancelled", b"Scheduled"):
        assert unpublished not in everything


def test_a_scheduled_issue_appears_once_its_send_time_has_come(tmp_path, config, store):
    report = build_site(config, store, NOW + timedelta(days=2, minutes=1), tmp_path / "site")
    assert report.issues == 4
    assert (tmp_path / "site/issues/2026-W49/index.html").is_file()
    assert (tmp_path / "site/themes/scheduled/index.html").is_file()
    assert not (tmp_path / "site/issues/2026-W48").exists()


def test_the_index_lists_issues_newest_first_by_subject_and_date_with_their_themes(site):
    rows = page(site, "index.html").select("ol.issues > li")
    # The subject each was sent with, its date, and its themes beneath.
    assert [[texts([line])[0] for line in row.select("a.item, .meta")] for row in rows] == [
        ["Weekly: 2026-W47", "18 November 2026", f"{VIDEO} (4) · {HEALTH} (1)"],
        ["Weekly: 2026-W46", "11 November 2026", f"{HEALTH} (4) · {VIDEO} (2)"],
        ["Weekly: 2026-W45", "4 November 2026", f"{HEALTH} (2) · {CARE} (1)"],
    ]
    assert rows[0].time["datetime"] == "2026-11-18T08:00:00+00:00"
    assert [row.a["href"] for row in rows] == [
        "issues/2026-W47/",
        "issues/2026-W46/",
        "issues/2026-W45/",
    ]
    links = [a["href"] for a in rows[0].select(".meta a")]
    assert links == [
        "issues/2026-W47/#digital-care-and-video-consultations",
        "issues/2026-W47/#health-inequalities",
    ]


def test_the_index_links_every_theme_page_with_its_item_count(site):
    (themes,) = page(site, "index.html").select("ul.themes")
    assert [(a["href"], a.string) for a in themes.select("a")] == [
        ("themes/digital-care-and-video-consultations/", VIDEO),
        ("themes/health-inequalities/", HEALTH),
        ("themes/social-care/", CARE),
    ]
    assert texts(themes.select("li")) == [
        f"{VIDEO} (6 items)",
        f"{HEALTH} (7 items)",
        f"{CARE} (1 item)",
    ]


def test_an_issue_page_shows_every_item_including_those_over_the_cap(site):
    soup = page(site, "issues/2026-W47/index.html")
    video = soup.find("h2", id="digital-care-and-video-consultations").find_parent("section")
    titles = [a.string for a in video.select("ul.items a")]
    assert titles == [f"2026-W47 {VIDEO} story {n}" for n in range(4)]  # 1 shown + 3 more
    item = video.select_one("ul.items li")
    assert texts([item]) == [
        f"2026-W47 {VIDEO} story 0 Partner news · 3 Nov What happened in story 0."
    ]
    assert [h2["id"] for h2 in soup.find_all("h2")] == [
        "digital-care-and-video-consultations",
        "health-inequalities",
    ]
    contents = [a["href"] for a in soup.select("nav a")]
    assert contents == ["#digital-care-and-video-consultations", "#health-inequalities"]


def test_an_issue_page_has_the_intro_the_weeknote_link_and_the_date(site):
    soup = page(site, "issues/2026-W47/index.html")
    assert soup.title.string == f"Weekly: 2026-W47 · {TITLE}, 18 November 2026"
    assert soup.h1.string == TITLE
    assert soup.find("time").string == "18 November 2026"
    assert soup.find("p", string="The intro of 2026-W47.")
    weeknote = soup.find("a", href=WEEKNOTE)
    assert weeknote.string == "Read the full weeknote: Weeknote 47"
    assert page(site, "issues/2026-W46/index.html").find("a", string=re.compile("weeknote")) is None


def test_item_links_are_the_items_own_urls_untagged(site):
    soup = page(site, "issues/2026-W46/index.html")
    external = [a["href"] for a in soup.find_all("a") if urlsplit(a["href"]).netloc]
    items = [f"https://partner.example/2026-W46/{slug(HEALTH)}/{n}" for n in range(4)]
    items += [f"https://partner.example/2026-W46/{slug(VIDEO)}/{n}" for n in range(2)]
    assert external == [*items, f"{ARCHIVE}/feed.xml"]  # the footer's feed link last
    assert not any("utm_" in href for href in external)


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "issues/2026-W45/index.html",
        "issues/2026-W47/index.html",
        "themes/health-inequalities/index.html",
    ],
)
def test_every_page_is_plain_accessible_html(site, name):
    html = (site / name).read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "lxml")
    assert html.startswith("<!doctype html>\n")
    assert soup.html["lang"] == "en" and soup.title.string
    assert soup.find("meta", attrs={"name": "viewport"})["content"].startswith("width=device-width")
    assert soup.find("link", rel="stylesheet")["href"].endswith("style.css")
    assert soup.find_all("script") == [] and "<%asm" not in html and "javascript:" not in html
    assert not [a for tag in soup.find_all(True) for a in tag.attrs if a.startswith("on")]
    levels = [int(h.name[1]) for h in soup.find_all(re.compile(r"^h[1-6]$"))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


def test_the_stylesheet_is_small_uses_system_fonts_and_has_a_dark_mode(site):
    css = (site / "style.css").read_text(encoding="utf-8")
    assert len(css) < 4000
    assert "-apple-system" in css and "@font-face" not in css and "@import" not in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert "{{" not in css and "&#39;" not in css  # rendered, and not HTML-escaped


def test_hostile_item_text_is_escaped_and_a_non_web_link_is_not_a_link(tmp_path, config, store):
    hostile = make_item("2026-W50", HEALTH, 0, title="<script>alert(1)</script>")
    sneaky = make_item("2026-W50", HEALTH, 1, url="javascript:alert(1)")
    issue = make_issue("2026-W50", {HEALTH: (0, 0)})
    issue = dataclasses.replace(
        issue, themes=(IssueTheme(HEALTH, slug(HEALTH), (hostile, sneaky)),)
    )
    send(store, issue, NOW)
    build_site(config, store, NOW, tmp_path / "site")
    html = (tmp_path / "site/issues/2026-W50/index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "javascript:" not in html
    assert f"<strong>2026-W50 {HEALTH} story 1</strong>" in html


# Theme pages ------------------------------------------------------------------------------------


def test_a_theme_page_lists_its_items_issue_by_issue_newest_first(site):
    soup = page(site, "themes/health-inequalities/index.html")
    assert soup.h1.string == HEALTH
    sections = soup.select("main section")
    assert texts(s.h2 for s in sections) == [
        "18 November 2026",
        "11 November 2026",
        "4 November 2026",
    ]
    assert [s.h2.a["href"] for s in sections] == [
        "../../issues/2026-W47/#health-inequalities",
        "../../issues/2026-W46/#health-inequalities",
        "../../issues/2026-W45/#health-inequalities",
    ]
    titles = [[a.string for a in s.select("ul.items a")] for s in sections]
    assert titles == [
        [f"2026-W47 {HEALTH} story 0"],
        [f"2026-W46 {HEALTH} story {n}" for n in range(4)],  # 2 shown + 2 more
        [f"2026-W45 {HEALTH} story {n}" for n in range(2)],
    ]


# The feed ---------------------------------------------------------------------------------------


def test_the_feed_is_valid_atom_with_absolute_links_and_send_times(site):
    xml = (site / "feed.xml").read_bytes()
    assert etree.fromstring(xml).tag == f"{{{ATOM}}}feed"
    feed = feedparser.parse(xml)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == TITLE and feed.feed.id == f"{ARCHIVE}/"
    assert feed.feed.updated == "2026-11-18T08:00:00Z"  # the newest delivery, not the build time
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": f"{ARCHIVE}/feed.xml",
        "alternate": f"{ARCHIVE}/",
    }
    entries = [(e.id, e.title, e.published, e.updated, e.link) for e in feed.entries]
    assert entries == [
        (
            f"{ARCHIVE}/issues/{issue_id}/",
            f"Weekly: {issue_id}",
            stamp,
            stamp,
            f"{ARCHIVE}/issues/{issue_id}/",
        )
        for issue_id, stamp in (
            ("2026-W47", "2026-11-18T08:00:00Z"),
            ("2026-W46", "2026-11-11T09:00:00Z"),
            ("2026-W45", "2026-11-04T09:00:00Z"),
        )
    ]
    assert feed.entries[0].summary == "The intro of 2026-W47."


def test_feed_entry_ids_stay_the_same_when_issues_are_added(tmp_path, config, store, site):
    before = [e.id for e in feedparser.parse((site / "feed.xml").read_bytes()).entries]
    send(store, make_issue("2026-W50", {HEALTH: (1, 0)}), NOW + timedelta(hours=1))
    build_site(config, store, NOW + timedelta(days=1), site)
    after = feedparser.parse((site / "feed.xml").read_bytes())
    assert [e.id for e in after.entries] == [f"{ARCHIVE}/issues/2026-W50/", *before]
    assert after.feed.updated == "2026-11-25T13:00:00Z"


def test_a_site_with_nothing_published_has_an_empty_valid_feed(tmp_path, config):
    with Store.open(tmp_path / "empty.db") as empty:
        report = build_site(config, empty, NOW, tmp_path / "site")
    assert (report.issues, report.themes, report.written) == (0, 0, 3)
    feed = feedparser.parse((tmp_path / "site/feed.xml").read_bytes())
    assert feed.bozo == 0 and feed.entries == []
    assert "No issue has been sent yet." in (tmp_path / "site/index.html").read_text()


# Rebuilds ---------------------------------------------------------------------------------------


def test_a_rebuild_of_the_same_state_is_byte_identical_and_writes_nothing(tmp_path, config, store):
    folder = tmp_path / "site"
    first = build_site(config, store, NOW, folder)
    files = snapshot(folder)
    stamps = {path: os.stat(folder / path).st_mtime_ns for path in files}
    second = build_site(config, store, NOW + timedelta(hours=5), folder)
    assert (first.written, first.unchanged, first.removed) == (9, 0, 0)
    assert (second.written, second.unchanged, second.removed) == (0, 9, 0)
    assert snapshot(folder) == files
    assert {path: os.stat(folder / path).st_mtime_ns for path in files} == stamps
    assert second == SiteReport(folder, 0, 9, 0, issues=3, themes=3)


def test_a_new_issue_rewrites_only_its_page_the_index_the_feed_and_its_themes(
    tmp_path, config, store, site
):
    before = snapshot(site)
    send(store, make_issue("2026-W50", {CARE: (1, 1)}), NOW + timedelta(hours=1))
    report = build_site(config, store, NOW + timedelta(days=1), site)
    after = snapshot(site)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        "issues/2026-W50/index.html",
        "index.html",
        "feed.xml",
        "themes/social-care/index.html",
    }
    assert (report.written, report.unchanged, report.removed) == (4, 6, 0)  # 9 + 1 new


def test_pages_of_a_cancelled_issue_and_a_vanished_theme_are_removed(tmp_path, config, store, site):
    (site / "CNAME").write_text("digest.community.example\n")
    (site / "issues/2026-W45/notes.txt").write_text("the editor's own file\n")
    Ledger(store).cancel("2026-W45", NOW)  # the only issue with Social care
    report = build_site(config, store, NOW, site)
    assert (report.removed, report.issues, report.themes) == (2, 2, 2)
    assert not (site / "issues/2026-W45/index.html").exists()
    assert not (site / "themes/social-care").exists()  # the emptied folder goes too
    assert (site / "CNAME").is_file() and (site / "issues/2026-W45/notes.txt").is_file()
    assert "2026-W45" not in (site / "index.html").read_text()


# Settings ---------------------------------------------------------------------------------------


def test_the_date_is_the_send_day_in_the_newsletters_time_zone(tmp_path, store):
    config = make_config(tmp_path, timezone="Pacific/Auckland")
    send(store, make_issue("2026-W50", {HEALTH: (1, 0)}), datetime(2026, 11, 25, 12, tzinfo=UTC))
    build_site(config, store, NOW, tmp_path / "site")
    soup = page(tmp_path / "site", "issues/2026-W50/index.html")
    assert soup.find("time").string == "26 November 2026"  # 01:00 on the 26th in Auckland


def test_editors_templates_override_the_web_templates(tmp_path, store):
    (tmp_path / "mine/web").mkdir(parents=True)
    (tmp_path / "mine/web/style.css").write_text("body { color: {{ palette.text }}; }\n")
    config = make_config(tmp_path, templates="mine")
    build_site(config, store, NOW, tmp_path / "site")
    assert (tmp_path / "site/style.css").read_text() == "body { color: #1f1f1f; }\n"
    assert "<h1>" in (tmp_path / "site/index.html").read_text()  # the rest: the defaults


def test_without_an_archive_url_it_says_what_to_set(tmp_path, store):
    with pytest.raises(MissingArchiveUrl) as raised:
        build_site(make_config(tmp_path, archive_url=None), store, NOW, tmp_path / "site")
    assert raised.value.message.startswith(
        "digest archive needs email.archive_url, the address its pages will be served from"
    )
    assert raised.value.message.endswith("until it is set, emails carry none of those links")
    assert "any static web host" in raised.value.hint
    assert not (tmp_path / "site").exists()


def test_a_folder_that_cannot_be_written_is_named(tmp_path, config, store):
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with pytest.raises(ArchiveWriteError) as raised:
        build_site(config, store, NOW, tmp_path / "blocked" / "site")
    assert str(tmp_path / "blocked" / "site") in raised.value.message
    assert "archive.folder" in raised.value.hint


# The command ------------------------------------------------------------------------------------


def write_feeds_yaml(tmp_path: Path, archive_url: str | None = ARCHIVE) -> Path:
    extra = f"email:\n  archive_url: {archive_url}\n" if archive_url else ""
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([], extra=extra), encoding="utf-8")
    return path


def test_the_command_writes_the_site_beside_feeds_yaml_and_reports_counts(
    tmp_path, store, monkeypatch
):
    write_feeds_yaml(tmp_path)
    monkeypatch.chdir(tmp_path)
    first = cli("archive", "-c", "feeds.yaml", command=CLI)
    second = cli("archive", "-c", "feeds.yaml", command=CLI)
    assert first.exit_code == 0, first.output
    assert "3 issues, 3 themes; 9 files written, 0 unchanged, 0 removed" in first.output
    assert "0 files written, 9 unchanged, 0 removed" in second.output
    assert (tmp_path / "site/issues/2026-W47/index.html").is_file()


def test_the_command_writes_where_out_says(tmp_path, store):
    feeds = write_feeds_yaml(tmp_path)
    out = tmp_path / "public"
    result = cli("archive", "-c", feeds, "--out", out, command=CLI)
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and not (tmp_path / "site").exists()


def test_the_command_without_an_archive_url_exits_2_with_the_hint(tmp_path, store):
    feeds = write_feeds_yaml(tmp_path, archive_url=None)
    result = cli("archive", "-c", feeds, command=CLI)
    assert result.exit_code == 2
    assert "Error: digest archive needs email.archive_url, the address" in result.output
    assert "Hint: set email.archive_url in feeds.yaml" in result.output


def test_an_issue_page_opens_with_the_picks_once_and_pages_say_1_issue(tmp_path, store):
    issue = make_issue("2026-W50", {HEALTH: (2, 1), CARE: (1, 0)})
    health = issue.themes[0]
    pick = dataclasses.replace(health.more[0], lead=1, blurb="One. Two.")
    issue = dataclasses.replace(
        issue, themes=(dataclasses.replace(health, more=(pick,)), issue.themes[1])
    )
    send(store, issue, NOW - timedelta(hours=2))
    config = make_config(tmp_path)
    newsletter = dataclasses.replace(config.newsletter, subscribe_url="https://c.example/join")
    build_site(dataclasses.replace(config, newsletter=newsletter), store, NOW, tmp_path / "s")
    soup = page(tmp_path / "s", "issues/2026-W50/index.html")
    first = soup.find("h2")
    assert first["id"] == "editors-picks"
    assert texts(first.find_next("ul").find_all("h3")) == [pick.title]
    assert "One." in first.find_next("ul").get_text() and "Two." not in soup.get_text()
    assert soup.find("main").get_text().count(pick.title) == 1
    assert soup.find("a", string="Subscribe")["href"] == "https://c.example/join"
    index = page(tmp_path / "s", "index.html")
    assert index.select("ol.issues > li")[0].a.get_text() == "Weekly: 2026-W50"  # not the pick
    care = page(tmp_path / "s", f"themes/{slug(CARE)}/index.html")
    assert care.find("header").find("p").get_text() == f"2 items in 2 issues of {TITLE}"


def test_plural_agrees_with_its_count():
    assert [plural(n, "issue") for n in (0, 1, 2)] == ["0 issues", "1 issue", "2 issues"]
    assert plural(1, "batch") == "1 batch" and plural(3, "batch") == "3 batches"
