"""Building an issue end to end: loopback feeds and weeknote, a real SQLite file, the clock
passed in."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from digest.config import load_config
from digest.pipeline import build_issue, fetch_sources, save_issue
from digest.store import Store
from tests.samples import NOW, cli, mark_sent, rss
from tests.server import Reply

THEMES = """themes:
  - name: Health inequalities
    aliases: [Inequalities]
  - name: Video consultations
    keywords: [video]
"""


def weeknote_page(n: int = 48, extra: str = "") -> bytes:
    return f"""<html><head><title>Weeknote {n}</title></head><body>
    <nav><a href="https://community.example/about">About</a></nav>
    <article><h1>Weeknote {n}</h1>
    <p>A busy week for the network, with two new reports and a video pilot to share.</p>
    <h2>Inequalities</h2>
    <ul>
    <li><a href="https://partner.example/news/0">Story 0 from a partner</a>: why it matters.</li>
    <li><a href="https://reports.example/gaps-{n}">The widening gaps report</a>, out this week.</li>
    </ul>
    <h2>Community voices</h2>
    <p>Read <a href="https://voices.example/{n}">stories from members</a> in their own words.</p>
    {extra}
    </article></body></html>""".encode()


def blog_feed(posts: list[tuple[str, str, datetime]]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
        for title, link, when in posts
    )
    channel = f"<channel><title>Blog</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def write_config(tmp_path, feeds: str, weeknote: str, extra: str = ""):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Test digest\n  website: https://community.example\n"
        f"  sender: Test <digest@community.example>\n{THEMES}feeds:\n{feeds}"
        f"weeknote:\n{weeknote}state:\n  db: state.db\n{extra}",
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def site(server, tmp_path):
    """A partner feed and a weeknote page on a loopback server; the config that reads them."""
    server.routes["/feed"] = Reply(200, rss(3), {"ETag": '"f1"'})
    server.routes["/weeknote"] = lambda headers: (
        Reply(304)
        if headers.get("if-none-match") == '"w1"'
        else Reply(200, weeknote_page(), {"ETag": '"w1"', "Content-Type": "text/html"})
    )
    feeds = f"  - name: Partner\n    url: {server.url('/feed')}\n"
    return write_config(tmp_path, feeds, f"  url: {server.url('/weeknote')}\n")


def build(config, now=NOW, fetch=True):
    with Store.open(config.db_path()) as store:
        reports = fetch_sources(config, store, now) if fetch else []
        return build_issue(config, store, now), reports


def themes_of(issue) -> dict[str, list[str]]:
    return {theme.name: [item.url for item in theme.items] for theme in issue.themes}


def test_weeknote_and_feeds_become_one_themed_issue(site, server):
    issue, reports = build(site)
    assert [r.name for r in reports] == ["Partner", "Weeknote"]
    assert all(r.status == "new" for r in reports)
    assert issue.id == "2026-W48"
    assert issue.intro.startswith("A busy week for the network")
    assert issue.weeknote_title == "Weeknote 48"
    assert themes_of(issue) == {
        # weeknote links first, in page order; the partner's copy of story 0 is a duplicate
        "Health inequalities": [
            "https://partner.example/news/0",
            "https://reports.example/gaps-48",
            "https://partner.example/news/1",
            "https://partner.example/news/2",
        ],
        "Community voices": ["https://voices.example/48"],
    }
    assert issue.themes[1].unmatched_heading
    assert any("'Community voices'" in warning for warning in issue.warnings)
    duplicate = [d for d in issue.skipped if d.outcome == "duplicate"]
    assert [d.url for d in duplicate] == ["https://partner.example/news/0"]
    assert issue.counts()["from_weeknote"] == 3 and issue.counts()["from_feeds"] == 2


def test_weeknote_page_is_fetched_conditionally_and_reused(site, server):
    first, _ = build(site)
    second, reports = build(site)
    assert reports[-1].status == "unchanged"
    assert server.hits("/weeknote")[1]["if-none-match"] == '"w1"'
    assert themes_of(second) == themes_of(first)


def test_building_ten_times_changes_nothing_a_send_depends_on(site):
    first, _ = build(site)
    for _ in range(9):
        build(site, fetch=False)
    again, _ = build(site, fetch=False)
    assert again.to_json() == first.to_json()
    db = sqlite3.connect(site.db_path())
    assert db.execute("SELECT count(*) FROM issues").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM issue_items").fetchone()[0] == 0


def test_items_of_a_sent_issue_are_not_sent_again(site, server):
    issue, _ = build(site)
    with Store.open(site.db_path()) as store:
        mark_sent(store, issue, NOW)
    # a week later: the partner republishes story 1 and adds a new one; same weeknote page
    later = NOW + timedelta(days=7)
    server.routes["/feed"] = Reply(200, rss(2, extra=_item("news/new", later)))
    next_issue, _ = build(site, now=later)
    assert next_issue.id == "2026-W49"
    assert next_issue.window_start == NOW - timedelta(hours=12)
    assert themes_of(next_issue) == {"Health inequalities": ["https://partner.example/news/new"]}
    skipped = {d.url: d.reason for d in next_issue.skipped if d.outcome == "already-sent"}
    assert skipped["https://voices.example/48"] == "already sent in 2026-W48"
    assert "https://partner.example/news/1" in skipped


def _item(path: str, when: datetime) -> str:
    return (
        f"<item><title>New story</title><link>https://partner.example/{path}</link>"
        f"<pubDate>{when - timedelta(hours=1):%a, %d %b %Y %H:%M:%S +0000}</pubDate>"
        "<category>Inequalities</category></item>"
    )


def test_weeknote_from_the_blog_feed_is_the_newest_matching_post(server, tmp_path):
    server.routes["/blog.xml"] = Reply(
        200,
        blog_feed(
            [
                ("Our new website", server.url("/news"), NOW - timedelta(hours=2)),
                ("Weeknote 48", server.url("/weeknote-48"), NOW - timedelta(days=1)),
                ("Weeknote 47", server.url("/weeknote-47"), NOW - timedelta(days=8)),
            ]
        ),
    )
    server.routes["/weeknote-48"] = Reply(200, weeknote_page(48))
    config = write_config(
        tmp_path, "  []\n", f"  feed: {server.url('/blog.xml')}\n  title_pattern: '(?i)weeknote'\n"
    )
    issue, reports = build(config)
    assert [(r.name, r.status) for r in reports] == [("Weeknote feed", "new"), ("Weeknote", "new")]
    assert issue.weeknote_url == server.url("/weeknote-48")
    assert "https://reports.example/gaps-48" in themes_of(issue)["Health inequalities"]
    assert not server.hits("/weeknote-47") and not server.hits("/news")
    # the blog's own posts are not partner items
    assert server.url("/news") not in {item.url for item in issue.items()}


def test_no_matching_post_is_reported_and_the_feeds_still_build(server, tmp_path):
    server.routes["/blog.xml"] = Reply(200, blog_feed([("Hello", server.url("/x"), NOW)]))
    server.routes["/feed"] = Reply(200, rss(2))
    config = write_config(
        tmp_path,
        f"  - name: Partner\n    url: {server.url('/feed')}\n",
        f"  feed: {server.url('/blog.xml')}\n  title_pattern: Weeknote\n",
    )
    issue, reports = build(config)
    assert reports[-1].status == "error" and "matches the weeknote rule" in reports[-1].error
    assert any(w.startswith("weeknote: no post in") for w in issue.warnings)
    assert len(themes_of(issue)["Health inequalities"]) == 2


def test_failing_weeknote_page_keeps_the_last_good_copy(site, server):
    build(site)
    server.routes["/weeknote"] = Reply(500, b"oops")
    issue, reports = build(site)
    assert reports[-1].status == "error" and "500" in reports[-1].error
    assert "https://reports.example/gaps-48" in themes_of(issue)["Health inequalities"]
    health = {source.name: source for source in issue.sources}
    assert health["Weeknote"].status == "error" and not health["Weeknote"].stale
    assert health["Partner"].status == "unchanged"


def test_a_20_mb_weeknote_is_cut_at_the_cap_and_still_used(server, tmp_path):
    filler = "<p>" + "Padding text for a very long page. " * 30 + "</p>"
    late = '<p><a href="https://late.example/">A link past the cap</a></p>'
    page = weeknote_page(extra=filler * 20_000 + late)
    assert len(page) > 20_000_000
    server.routes["/weeknote"] = Reply(200, page)
    config = write_config(
        tmp_path, "  []\n", f"  url: {server.url('/weeknote')}\n", "fetch:\n  max_bytes: 1000000\n"
    )
    issue, (report,) = build(config)
    assert report.status == "new" and "page cut at 1,000,000 bytes" in report.note
    assert "https://reports.example/gaps-48" in themes_of(issue)["Health inequalities"]
    assert "https://late.example/" not in {item.url for item in issue.items()}
    assert any("page cut at 1,000,000 bytes" in warning for warning in issue.warnings)
    with Store.open(config.db_path()) as store:
        assert len(store.page(server.url("/weeknote"))) == 1_000_000


def test_overrides_are_applied(site, tmp_path):
    (tmp_path / "overrides.yaml").write_text(
        "2026-W48:\n  intro: Hand-written intro.\n  theme_order: [Video consultations]\n"
        "  items:\n"
        "    - url: https://reports.example/gaps-48?utm_source=x\n      drop: true\n"
        "    - url: https://voices.example/48\n      theme: video consultations\n"
        "      title: Members' stories\n"
        "    - url: https://nowhere.example/\n      pin: true\n",
        encoding="utf-8",
    )
    issue, _ = build(site)
    assert issue.intro == "Hand-written intro."
    assert [t.name for t in issue.themes] == ["Video consultations", "Health inequalities"]
    assert issue.themes[0].items[0].title == "Members' stories"
    assert "https://reports.example/gaps-48" not in themes_of(issue)["Health inequalities"]
    assert any("https://nowhere.example/" in w for w in issue.warnings)


def test_issue_json_round_trips(site, tmp_path):
    issue, _ = build(site)
    path = save_issue(issue, tmp_path / "out")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "2026-W48.json"
    assert data["id"] == "2026-W48" and data["counts"]["shown"] == 5
    assert data["themes"][0]["slug"] == "health-inequalities"
    assert data["themes"][0]["items"][0]["source"] == "Weeknote"
    assert {s["name"] for s in data["sources"]} == {"Partner", "Weeknote"}
    assert not list((tmp_path / "out").glob("*.partial"))


# The command itself, on local files, with its clock at NOW.


@pytest.fixture
def local_site(tmp_path):
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
        + _item("news/fresh", NOW)
        + "</channel></rss>",
        encoding="utf-8",
    )
    (tmp_path / "weeknote.html").write_bytes(weeknote_page())
    write_config(tmp_path, "  - name: Partner\n    url: feed.xml\n", "  url: weeknote.html\n")
    return tmp_path


def invoke(*args):
    return cli(*args)


def test_build_command_writes_the_issue_and_prints_a_summary(local_site):
    result = invoke("build", "-c", local_site / "feeds.yaml")
    assert result.exit_code == 0, result.output
    week = "2026-W48"
    assert "Health inequalities" in result.output
    assert " items in 2 themes" in result.output
    written = list((local_site / "build").glob("*.json"))
    assert [path.stem for path in written] == [week]
    explained = invoke("build", "-c", local_site / "feeds.yaml", "--offline", "--explain")
    assert "heading matches alias 'Inequalities'" in explained.output
    as_json = invoke("build", "-c", local_site / "feeds.yaml", "--offline", "--json")
    assert json.loads(as_json.output)["counts"]["from_feeds"] == 1


def test_build_command_issue_option(local_site):
    result = invoke("build", "-c", local_site / "feeds.yaml", "--issue", "2026-W7")
    assert result.exit_code == 2 and "expected a week like 2026-W48" in result.output
    result = invoke(
        "build", "-c", local_site / "feeds.yaml", "--issue", "2026-W50", "--out", local_site / "o"
    )
    assert result.exit_code == 0 and (local_site / "o" / "2026-W50.json").exists()


def test_build_with_nothing_to_send_exits_1(tmp_path):
    (tmp_path / "page.html").write_text("<p>nothing here</p>", encoding="utf-8")
    write_config(tmp_path, "  []\n", "  url: page.html\n")
    result = invoke("build", "-c", tmp_path / "feeds.yaml")
    assert result.exit_code == 1
    assert (
        "0 items in 0 themes" in result.output
        and "warning: weeknote: no links found" in result.output
    )
