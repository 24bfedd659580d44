"""Building an issue end to end: loopback feeds and weeknote, a real SQLite file, the clock
passed in."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from digest.core.config import load_config
from digest.core.store import Store
from digest.curation.classify import MIN_EXAMPLES, Example
from digest.curation.examples import save_examples
from digest.pipeline import build_issue, fetch_sources, save_issue, unreachable_sources
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
        assert len(store.page(server.url("/weeknote")).body) == 1_000_000


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
    # no page was read (not online): the source line names the link's domain
    assert data["themes"][0]["items"][0]["source"] == "partner.example"
    assert {s["name"] for s in data["sources"]} == {"Partner", "Weeknote"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == [path.name]  # nothing left beside


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


# Enrichment: the linked pages' heads, read once, tidy the items (digest.curation.enrich,
# digest.curation.tidy).


def html_page(head: str) -> Reply:
    return Reply(200, f"<html><head>{head}</head><body>x</body></html>".encode(), HTML)


HTML = {"Content-Type": "text/html; charset=utf-8"}
ITEM_PATHS = ("/toolkit", "/refuses", "/writeup", "/toolkit-copy", "/other")


@pytest.fixture
def enriched_site(server, tmp_path):
    """A weeknote and a feed on the loopback server whose links lead to pages there too."""
    link = server.url
    server.routes["/weeknote"] = Reply(
        200,
        f"""<html><body><article><h1>Weeknote 48</h1>
        <p>A busy week for the network, with two new reports and a pilot to share with you.</p>
        <h2>Inequalities</h2><ul>
        <li><a href="{link("/toolkit")}">see for the detail of</a> the new toolkit. Read more.</li>
        <li><a href="{link("/refuses")}">The widening gaps report</a>, out this week.</li>
        <li>The full write-up <a href="{link("/writeup")}">is here</a>.</li>
        </ul></article></body></html>""".encode(),
        HTML,
    )
    server.routes["/toolkit"] = html_page(
        '<meta property="og:title" content="Toolkit for reception teams | The King\'s Fund">'
        '<meta property="og:site_name" content="The King\'s Fund">'
    )
    server.routes["/refuses"] = Reply(403)
    server.routes["/writeup"] = html_page(
        "<title>Pilot of video clinics - Northfield Trust</title>"
    )
    server.routes["/toolkit-copy"] = html_page(f'<link rel="canonical" href="{link("/toolkit")}">')
    server.routes["/other"] = Reply(404)
    items = (
        f"<item><title>Toolkit for receptionists</title><link>{link('/toolkit-copy')}</link>"
        f"<pubDate>{NOW:%a, %d %b %Y %H:%M:%S +0000}</pubDate><description></description></item>"
        f"<item><title>Winter plan published</title><link>{link('/other')}</link>"
        f"<pubDate>{NOW:%a, %d %b %Y %H:%M:%S +0000}</pubDate>"
        "<description>Read more.</description></item>"
    )
    server.routes["/feed"] = Reply(
        200, f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
    )
    feeds = f"  - name: Partner\n    url: {link('/feed')}\n"
    return write_config(tmp_path, feeds, f"  url: {link('/weeknote')}\n")


def online(config):
    return dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, online=True))


def page_requests(server) -> list[str]:
    return [path for _, path, _ in server.requests if path in ITEM_PATHS]


def test_items_read_as_an_editor_would_write_them(enriched_site, server):
    issue, _ = build(online(enriched_site))
    items = {item.url.rsplit("/", 1)[-1]: item for item in issue.items()}
    toolkit = items["toolkit"]
    assert (toolkit.title, toolkit.source, toolkit.origin) == (
        "Toolkit for reception teams",
        "The King's Fund",
        "weeknote",
    )
    assert toolkit.blurb == "See for the detail of the new toolkit."
    assert items["writeup"].title == "Pilot of video clinics"
    assert items["writeup"].source == "127.0.0.1"
    refused = items["refuses"]
    assert (refused.title, refused.blurb) == ("The widening gaps report", "Out this week.")
    assert refused.reason.endswith("not enriched: HTTP 403 Forbidden")
    assert items["other"].blurb == ""  # "Read more." is no summary, and the page is missing
    (duplicate,) = [d for d in issue.skipped if d.outcome == "duplicate"]
    assert duplicate.url == server.url("/toolkit-copy")
    assert duplicate.reason == "same page as The King's Fund's 'Toolkit for reception teams'"
    assert sorted(page_requests(server)) == sorted(ITEM_PATHS)  # each page once


def test_a_week_of_links_is_fetched_once(enriched_site, server):
    build(online(enriched_site))
    build(online(enriched_site))
    assert sorted(page_requests(server)) == sorted(ITEM_PATHS)
    links = cli("links", "-c", enriched_site.path)
    assert "/toolkit" in links.output
    # digest links asks again only for the broken ones (HEAD, then GET); the healthy ones came
    # from enrichment, and the duplicate is not in the issue
    again = ["/refuses", "/refuses", "/other", "/other"]
    assert sorted(page_requests(server)) == sorted([*ITEM_PATHS, *again])


def test_explain_says_what_was_taken_and_why_not(enriched_site, server):
    result = cli("build", "-c", enriched_site.path, "--explain")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert (
        "enriched: took the title (the link text starts in lower case), publisher from the page"
        in lines
    )
    assert "not enriched: HTTP 403 Forbidden" in lines
    assert "not enriched: HTTP 404 Not Found" in lines


def test_offline_builds_from_the_cache_only(enriched_site, server):
    assert cli("fetch", "-c", enriched_site.path).exit_code == 0
    cold = cli("build", "-c", enriched_site.path, "--offline", "--explain")
    assert "not enriched: offline, nothing cached" in cold.output
    assert page_requests(server) == []
    cli("build", "-c", enriched_site.path)
    requests = len(server.requests)
    warm = cli("build", "-c", enriched_site.path, "--offline", "--explain", "--json")
    assert len(server.requests) == requests
    titles = {
        item["title"] for theme in json.loads(warm.output)["themes"] for item in theme["items"]
    }
    assert "Toolkit for reception teams" in titles


def test_no_enrich_reads_no_page_and_still_tidies(enriched_site, server):
    result = cli("build", "-c", enriched_site.path, "--no-enrich", "--explain", "--json")
    assert result.exit_code == 0, result.output
    assert page_requests(server) == []
    items = [item for theme in json.loads(result.output)["themes"] for item in theme["items"]]
    toolkit = next(item for item in items if item["url"].endswith("/toolkit"))
    assert (toolkit["title"], toolkit["source"]) == ("See for the detail of", "127.0.0.1")
    assert toolkit["reason"].endswith(
        "not enriched: enrichment is off (--no-enrich, or enrich.enabled: false)"
    )


def test_preview_and_send_take_no_enrich(enriched_site, server, tmp_path):
    preview = cli("preview", "-c", enriched_site.path, "--no-enrich", "--out", tmp_path / "p")
    assert preview.exit_code == 0, preview.output
    with (enriched_site.path.parent / "feeds.yaml").open("a", encoding="utf-8") as config:
        # The link check before a send would ask the same pages: this test is about enrichment.
        config.write(
            "sending:\n  transport: outbox\nemail:\n  unsubscribe_url: https://x.example/u\n"
            "links:\n  before_send: false\n"
        )
    assert cli("subscribers", "add", "ada@example.org", "-c", enriched_site.path).exit_code == 0
    send = cli("send", "-c", enriched_site.path, "--dry-run", "--no-enrich")
    assert send.exit_code == 0, send.output
    assert page_requests(server) == []
    assert "See for the detail of" in (tmp_path / "p" / "issue.txt").read_text(encoding="utf-8")


def test_only_the_pages_the_email_shows_are_read(server, tmp_path):
    """Links over their theme's cap are never asked for; the editor's pick is read first."""
    link = server.url
    listed = "".join(
        f'<li><a href="{link(f"/s{n}")}">Story number {n} in full</a>, out now.</li>'
        for n in range(6)
    )
    server.routes["/weeknote"] = Reply(
        200,
        f"""<html><body><article><h1>Weeknote 48</h1>
        <p>A busy week: <a href="{link("/pick")}">the pick of the week in one report</a>, and
        more news from the network to share with all of you this week.</p>
        <h2>Inequalities</h2><ul>{listed}
        </ul>
        </article></body></html>""".encode(),
        HTML,
    )
    for path in ("/pick", *(f"/s{n}" for n in range(6))):
        server.routes[path] = html_page(f'<meta property="og:site_name" content="Site {path}">')
    # One request at a time to the host, so the order the server sees is the order asked.
    extra = "curation:\n  per_theme: 2\nfetch:\n  per_host: 1\n"
    config = write_config(tmp_path, "  []\n", f"  url: {link('/weeknote')}\n", extra)
    issue, _ = build(online(config))
    asked = [path for _, path, _ in server.requests if path != "/weeknote"]
    assert asked == ["/pick", "/s0", "/s1"]
    (inequalities,) = [theme for theme in issue.themes if theme.name == "Health inequalities"]
    assert [item.url for item in inequalities.more] == [link(f"/s{n}") for n in range(2, 6)]
    assert inequalities.items[0].source == "Site /s0"  # read, and tidied with what it said
    (tmp_path / "state.db").unlink()
    shared = write_config(
        tmp_path, "  []\n", f"  url: {link('/weeknote')}\n", "enrich:\n  max_per_host: 2\n"
    )
    issue, _ = build(online(shared))
    assert "enrichment: 5 linked pages left unread: more than 2 links to one host" in (
        "\n".join(issue.warnings)
    )


# Learning: the weeknote's links become labelled examples, and the classifier they train themes
# feed items once there are enough of them (digest.curation.examples, digest.curation.classify).


def examples(config) -> dict[str, tuple[str, str, str]]:
    """canonical URL → (theme, origin, issue) of every stored example."""
    with Store.open(config.db_path()) as store:
        rows = store.db.execute("SELECT canonical_url, theme, origin, issue FROM theme_examples")
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def test_a_build_keeps_the_links_under_themed_headings(site):
    build(site)
    assert examples(site) == {
        "https://partner.example/news/0": ("Health inequalities", "weeknote", "2026-W48"),
        "https://reports.example/gaps-48": ("Health inequalities", "weeknote", "2026-W48"),
    }  # "Community voices" names no theme, and the editorial has no heading: no labels


def test_a_move_in_the_overrides_file_corrects_the_label(site, tmp_path):
    (tmp_path / "overrides.yaml").write_text(
        "2026-W48:\n  items:\n"
        "    - url: https://reports.example/gaps-48\n      theme: video consultations\n",
        encoding="utf-8",
    )
    build(site)
    assert examples(site)["https://reports.example/gaps-48"] == (
        "Video consultations",
        "override",
        "2026-W48",
    )


def feed_config(server, tmp_path):
    """A partner feed whose items name no theme and carry no keyword, and no weeknote."""
    body = rss(3).replace(b"<category>Health inequalities</category>", b"")
    body = body.replace(b"Summary of story", b"New figures on widening gaps, story")
    server.routes["/feed"] = Reply(200, body)
    (tmp_path / "page.html").write_text("<p>No links this week.</p>", encoding="utf-8")
    feeds = f"  - name: Partner\n    url: {server.url('/feed')}\n"
    return write_config(tmp_path, feeds, "  url: page.html\n")


def store_examples(config, count: int) -> None:
    labelled = [
        (
            f"https://past.example/{n}",
            Example("Health inequalities", "widening gaps", issue="2026-W40"),
        )
        for n in range(count)
    ]
    with Store.open(config.db_path()) as store:
        save_examples(store, labelled, "learn", NOW - timedelta(days=50))


def test_the_classifier_decides_once_enough_examples_are_stored(server, tmp_path):
    config = feed_config(server, tmp_path)
    store_examples(config, MIN_EXAMPLES - 1)
    issue, _ = build(config)
    reasons = [item.reason for theme in issue.themes for item in theme.items]
    assert reasons and not any(reason.startswith("classifier:") for reason in reasons)
    store_examples(config, MIN_EXAMPLES)
    issue, _ = build(config)
    [theme] = issue.themes
    assert theme.name == "Health inequalities"
    assert all(item.reason.startswith("classifier: Health inequalities") for item in theme.items)


def models(config) -> list[tuple[str, str]]:
    with sqlite3.connect(config.db_path()) as db:
        return db.execute("SELECT fingerprint, trained FROM theme_models").fetchall()


def test_the_trained_classifier_is_kept_until_its_examples_change(server, tmp_path):
    config = feed_config(server, tmp_path)
    store_examples(config, MIN_EXAMPLES)
    first, _ = build(config)
    [(fingerprint, trained)] = models(config)
    assert trained == NOW.isoformat()
    again, _ = build(config, NOW + timedelta(hours=1))  # nothing new learnt: the same model
    assert models(config) == [(fingerprint, trained)]
    assert themes_of(again) == themes_of(first)
    store_examples(config, MIN_EXAMPLES + 1)  # one more example: trained again, in its place
    build(config, NOW + timedelta(hours=2))
    [(changed, retrained)] = models(config)
    assert changed != fingerprint and retrained == (NOW + timedelta(hours=2)).isoformat()


# With no network


CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens on it, so connecting is refused


def test_a_weeknote_feed_that_cannot_be_downloaded_is_named_as_the_cause(tmp_path):
    config = write_config(
        tmp_path, "  []\n", f"  feed: {CLOSED}/blog.xml\n  title_pattern: '(?i)weeknote'\n"
    )
    with Store.open(config.db_path()) as store:
        reports = fetch_sources(config, store, NOW)
        issue = build_issue(config, store, NOW)
    weeknote = reports[-1]
    assert weeknote.name == "Weeknote" and weeknote.error.startswith(
        f"its feed {CLOSED}/blog.xml could not be downloaded (cannot connect"
    )
    assert "matches the weeknote rule" not in weeknote.error
    assert any(
        w.startswith(f"weeknote: its feed {CLOSED}/blog.xml could not") for w in issue.warnings
    )


def test_every_source_unreachable_is_one_no_network_line(tmp_path):
    feeds = "".join(f"  - name: Partner {n}\n    url: {CLOSED}/feed-{n}\n" for n in range(4))
    config = write_config(tmp_path, feeds, f"  url: {CLOSED}/weeknote\n")
    with Store.open(config.db_path()) as store:
        reports = fetch_sources(config, store, NOW)
    line = unreachable_sources(reports)
    assert line.startswith("no network? none of the 5 sources on the web could be reached")
    assert line.endswith("; check this machine's connection")
    built = cli("build", "-c", config.path)
    assert built.stderr.count("no network?") == 1, built.output
    assert "or work from what the state holds with --offline" in built.stderr
    fetched = cli("fetch", "-c", config.path)
    assert fetched.exit_code == 1 and fetched.stderr.count("no network?") == 1, fetched.output
    assert "or build from what the state holds with `digest build --offline`" in fetched.stderr


def test_one_source_reachable_is_not_a_missing_network(tmp_path, server):
    server.routes["/feed"] = Reply(200, rss(2))
    feeds = f"  - name: Up\n    url: {server.url('/feed')}\n  - name: Down\n    url: {CLOSED}/x\n"
    config = write_config(tmp_path, feeds, f"  url: {CLOSED}/weeknote\n")
    with Store.open(config.db_path()) as store:
        reports = fetch_sources(config, store, NOW)
    assert [r.failed for r in reports] == [False, True, True]
    assert unreachable_sources(reports) is None
