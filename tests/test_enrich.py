"""Enrichment: reading linked pages' heads, politely and cached (digest.curation.enrich). Real
SQLite on tmp_path, a loopback server or httpx.MockTransport, the clock passed in."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import httpx
import pytest

from digest.core.config import load_config
from digest.core.store import Store
from digest.curation.enrich import page_heads
from digest.curation.heads import HEAD_CAP, PageHead, parse_head
from digest.sources.links import IssueLink, check_links
from tests.resolver import table_resolver
from tests.samples import NOW
from tests.server import Reply

URL = "https://www.kingsfund.org.uk/publications/toolkit"


def page(head: str, body: str = "<p>Body</p>") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


# Parsing


def test_open_graph_wins_and_relative_urls_become_absolute():
    found = parse_head(
        page(
            '<title>Plain title | Site</title><meta property="og:title" content="OG title">'
            '<meta name="twitter:title" content="Twitter title">'
            '<meta name="description" content="Plain description">'
            '<meta property="og:description" content="OG description">'
            '<meta property="og:site_name" content="The King\'s Fund">'
            '<link rel="canonical" href="/publications/toolkit-2026">'
            '<meta property="og:image" content="img/cover.png">'
            '<meta property="og:image:width" content="1200">'
            '<meta property="og:image:height" content="630px">'
            '<meta property="og:image:alt" content="A cover">'
        ),
        URL,
    )
    assert found == PageHead(
        URL,
        title="OG title",
        description="OG description",
        publisher="The King's Fund",
        canonical="https://www.kingsfund.org.uk/publications/toolkit-2026",
        image="https://www.kingsfund.org.uk/publications/img/cover.png",
        image_width=1200,
        image_height=None,  # not a number
        image_alt="A cover",
    )


def test_twitter_then_title_and_meta_description_then_json_ld_publisher():
    report = {"@type": "Report", "publisher": {"name": "NHS England"}}
    ld = {"@context": "https://schema.org", "@graph": [report]}
    found = parse_head(
        page(
            '<meta name="twitter:description" content="Twitter description">'
            f'<script type="application/ld+json">{json.dumps(ld)}</script>'
            "<title>  Plain\n title </title>"
        ),
        URL,
    )
    assert (found.title, found.description, found.publisher) == (
        "Plain title",
        "Twitter description",
        "NHS England",
    )
    plain = parse_head(page('<title>T</title><meta name="description" content="D">'), URL)
    assert (plain.title, plain.description, plain.publisher) == ("T", "D", None)


def test_a_base_element_and_an_odd_canonical():
    found = parse_head(
        page('<base href="https://cdn.example/x/"><link rel="Canonical stylesheet" href="p">'), URL
    )
    assert found.canonical == "https://cdn.example/x/p"
    javascript = parse_head(page('<link rel="canonical" href="javascript:alert(1)">'), URL)
    assert javascript.canonical is None
    broken = parse_head(page('<link rel="canonical" href="http://[oops/">'), URL)
    assert broken.canonical is None


@pytest.mark.parametrize(
    "body",
    [b"", b"<p>no head at all</p>", b"<html><head><title>unclosed", b"\x00\xff<<<>>>", b"<?xml ?>"],
)
def test_no_head_or_broken_markup_never_raises(body):
    found = parse_head(body, URL)
    assert found.url == URL and found.error is None


def test_broken_markup_still_gives_what_it_can():
    found = parse_head(b"<html><head><title>Kept</title><meta property=og:title content=", URL)
    assert found.title == "Kept"


def test_nul_characters_do_not_hide_the_head():
    assert parse_head(page("<title>Kept\x00 title</title>"), URL).title == "Kept title"


def test_a_hostile_title_is_one_capped_plain_line():
    found = parse_head(page(f"<title>Evil\x1b[2J\x07 title{'x' * 10_000}</title>"), URL)
    assert "\x1b" not in found.title and "\x07" not in found.title
    assert len(found.title) <= 300 and found.title.endswith("…")
    ld = "[" * 100_000 + "]" * 100_000  # too deep for json: skipped
    deep = parse_head(page(f'<script type="application/ld+json">{ld}</script>'), URL)
    assert deep.publisher is None


def test_only_the_first_256_kb_are_read():
    filler = "<!--" + "x" * HEAD_CAP + "-->"
    found = parse_head(
        page(f"<title>Early</title>{filler}<meta name=description content=Late>"), URL
    )
    assert (found.title, found.description) == ("Early", None)


def test_charsets_from_the_header_the_meta_or_utf8():
    latin = page("<title>Caf\xe9 \x93quoted\x94</title>").decode().encode("latin-1")
    assert parse_head(latin, URL, "text/html; charset=ISO-8859-1").title == "Café “quoted”"
    meta = page('<meta charset="windows-1252"><title>Caf\xe9</title>').decode().encode("cp1252")
    assert parse_head(meta, URL).title == "Café"
    assert parse_head(page("<title>Café</title>"), URL).title == "Café"


# Fetching and the cache


@pytest.fixture
def config(server, tmp_path):
    """A config whose weeknote is on the loopback server, so its links may be too; online."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: T\n  website: https://community.example\n"
        "  sender: T <digest@community.example>\nthemes:\n  - name: Health\n"
        f"weeknote:\n  url: {server.url('/weeknote')}\nstate:\n  db: state.db\n",
        encoding="utf-8",
    )
    loaded = load_config(path)
    return dataclasses.replace(loaded, enrich=dataclasses.replace(loaded.enrich, online=True))


def heads(config, urls, now=NOW, **kwargs) -> dict[str, PageHead]:
    links = [IssueLink(url, "weeknote", "Weeknote") for url in urls]
    with Store.open(config.db_path()) as store:
        return page_heads(links, config, store, now, **kwargs).heads


def test_a_page_is_read_once_and_reused_for_30_days(config, server):
    server.routes["/a"] = Reply(200, page("<title>A report</title>"), {"Content-Type": "text/html"})
    url = server.url("/a")
    first = heads(config, [url])[url]
    assert (first.title, first.final_url, first.error, first.fetched_at) == (
        "A report",
        url,
        None,
        NOW,
    )
    assert heads(config, [url], NOW + timedelta(days=29))[url].title == "A report"
    assert server.methods("/a") == ["GET"]
    assert server.hits("/a")[0]["user-agent"] == config.user_agent()
    heads(config, [url], NOW + timedelta(days=31))
    assert server.methods("/a") == ["GET", "GET"]


def test_an_error_is_reused_for_a_day(config, server):
    server.routes["/gone"] = Reply(403, b"no robots")
    url = server.url("/gone")
    assert heads(config, [url])[url].error == "HTTP 403 Forbidden"
    assert heads(config, [url], NOW + timedelta(hours=23))[url].error == "HTTP 403 Forbidden"
    assert len(server.hits("/gone")) == 1
    heads(config, [url], NOW + timedelta(hours=25))
    assert len(server.hits("/gone")) == 2


def test_redirects_are_followed_and_the_final_url_kept(config, server):
    server.routes["/old"] = Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = Reply(200, page("<title>New</title>"), {"Content-Type": "text/html"})
    url = server.url("/old")
    found = heads(config, [url])[url]
    assert (found.url, found.final_url, found.title) == (url, server.url("/new"), "New")


def test_a_broken_redirect_is_an_error_line(config, server):
    server.routes["/bad"] = Reply(302, headers={"Location": "http://[oops/"})
    url = server.url("/bad")
    assert heads(config, [url])[url].error.startswith("ValueError: ")


def test_not_html_and_reading_stops_at_the_end_of_the_head(config, server):
    server.routes["/pdf"] = Reply(200, b"%PDF-1.7", {"Content-Type": "application/pdf"})
    long_body = page("<title>Head</title>", "<p>x</p>" * 300_000)  # 2.4 MB after the head
    chunks = [long_body[:2000], long_body[2000:]]
    server.routes["/long"] = Reply(200, chunks, {"Content-Type": "text/html"})
    found = heads(config, [server.url("/pdf"), server.url("/long")])
    assert found[server.url("/pdf")].error == "not an HTML page (application/pdf)"
    assert found[server.url("/long")].title == "Head"


def test_the_guard_refuses_a_private_address_before_any_request(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: T\n  website: https://community.example\n"
        "  sender: T <digest@community.example>\nthemes:\n  - name: Health\n"
        "weeknote:\n  url: https://community.example/weeknote\nstate:\n  db: state.db\n",
        encoding="utf-8",
    )
    loaded = load_config(path)
    config = dataclasses.replace(loaded, enrich=dataclasses.replace(loaded.enrich, online=True))
    asked = []
    transport = httpx.MockTransport(lambda request: asked.append(request) or httpx.Response(200))
    addresses = {"intranet.corp": ["10.0.0.5"], "community.example": ["93.184.216.34"]}
    resolver = table_resolver(addresses)
    url = "http://intranet.corp/admin"
    async_client = httpx.AsyncClient(transport=transport)
    found = heads(config, [url], client=async_client, resolver=resolver)[url]
    assert found.error.startswith("refused: intranet.corp resolves to 10.0.0.5, a private")
    assert asked == []


def test_offline_reads_only_the_cache(config, server):
    server.routes["/a"] = Reply(200, page("<title>A</title>"), {"Content-Type": "text/html"})
    url, other = server.url("/a"), server.url("/b")
    heads(config, [url])
    offline = dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, online=False))
    found = heads(offline, [url, other, "file:///tmp/x.html"])
    assert found[url].title == "A"
    assert found[other].error == "offline, nothing cached"
    assert found["file:///tmp/x.html"].error == "not an http(s) link"
    assert heads(offline, ["http://[oops/x"])["http://[oops/x"].error == "not a usable URL"
    assert server.hits("/b") == [] and len(server.hits("/a")) == 1


def test_reserved_names_are_never_looked_up(config):
    asked = []
    resolver = table_resolver({}, asked)
    url = "https://partner.example/news/1"
    found = heads(config, [url], resolver=resolver)[url]
    assert (
        found.error == "partner.example is a reserved name (RFC 2606): no public site answers there"
    )
    assert asked == []


def test_disabled_reads_nothing(config, server):
    off = dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, enabled=False))
    url = server.url("/a")
    assert heads(off, [url])[url].error.startswith("enrichment is off")
    assert server.requests == []


def test_digest_links_reuses_what_enrichment_read(config, server):
    server.routes["/a"] = Reply(200, page("<title>A</title>"), {"Content-Type": "text/html"})
    server.routes["/old"] = Reply(301, headers={"Location": "/a"})
    urls = [server.url("/a"), server.url("/old")]
    heads(config, urls)
    before = len(server.requests)
    with Store.open(config.db_path()) as store:
        links = [IssueLink(url, "weeknote", "Weeknote") for url in urls]
        results = check_links(links, config, store, NOW + timedelta(hours=1))
    assert len(server.requests) == before  # no request: the checks came from enrichment
    assert [(r.outcome, r.status, r.cached) for r in results] == [
        ("ok", 200, True),
        ("redirected", 200, True),
    ]
    assert results[1].final_url == server.url("/a")


# Hostile pages

HTML = {"Content-Type": "text/html"}


def test_a_gzip_bomb_page_is_read_only_to_the_head_cap(config, server):
    import gzip

    bomb = gzip.compress(b"<html><head><title>Bomb</title>" + b"\0" * 50_000_000)
    server.routes["/bomb"] = Reply(200, bomb, {**HTML, "Content-Encoding": "gzip"})
    url = server.url("/bomb")
    found = heads(config, [url])[url]
    assert (found.title, found.error) == ("Bomb", None)
    assert server.hits("/bomb")[0]["accept-encoding"] == "gzip, deflate"


def test_a_redirect_off_the_web_never_becomes_the_link(config, server):
    server.routes["/js"] = Reply(302, headers={"Location": "javascript:alert(1)"})
    server.routes["/file"] = Reply(301, headers={"Location": "file:///etc/passwd"})
    urls = [server.url("/js"), server.url("/file")]
    found = heads(config, urls)
    # httpx itself refuses to make a URL of "javascript:alert(1)"; digest refuses file: ones
    assert found[urls[0]].final_url is None and found[urls[0]].error.startswith("InvalidURL")
    assert (found[urls[1]].final_url, found[urls[1]].error) == (
        None,
        "a 301 redirect to a file URL, not a web page",
    )


def test_a_redirect_to_an_overlong_url_never_becomes_the_link(config, server):
    server.routes["/short"] = Reply(302, headers={"Location": "/landing?" + "x" * 5000})
    url = server.url("/short")
    found = heads(config, [url])[url]
    assert found.final_url is None
    assert found.error.startswith("a 302 redirect to a URL of 5,")
    assert found.error.endswith("characters (more than 2,048)")


IMAGE_HOSTS = {"img.partner.org": ["93.184.215.14"], "intranet.partner.org": ["10.0.0.7"]}


def image_page(src: str, width: int = 1200, height: int = 630) -> Reply:
    meta = (
        f'<meta property="og:image" content="{src}"><meta property="og:image:width" '
        f'content="{width}"><meta property="og:image:height" content="{height}">'
        '<meta property="og:image:alt" content="A picture">'
    )
    return Reply(200, page(f"<title>Story</title>{meta}"), HTML)


def test_a_pages_image_is_kept_only_when_public_https_and_of_a_plausible_size(config, server):
    pages = {
        "/public": image_page("https://img.partner.org/a.jpg"),
        "/private": image_page("https://intranet.partner.org/pixel.gif"),
        "/loopback": image_page(server.url("/cover.jpg").replace("http:", "https:")),
        "/plain-http": image_page("http://img.partner.org/a.jpg"),
        "/pixel": image_page("https://img.partner.org/p.gif", 1, 1),
        "/strip": image_page("https://img.partner.org/rule.png", 1200, 40),
        "/unresolved": image_page("https://gone.partner.org/a.jpg"),
    }
    server.routes.update(pages)
    urls = [server.url(path) for path in pages]
    found = heads(config, urls, resolver=table_resolver(IMAGE_HOSTS))
    kept = {url.rsplit("/", 1)[1]: found[url].image for url in urls}
    assert kept == {
        "public": "https://img.partner.org/a.jpg",
        "private": None,  # a reader's mail app would ask the intranet
        "loopback": None,  # even though the weeknote itself is served from loopback
        "plain-http": None,
        "pixel": None,
        "strip": None,
        "unresolved": None,
    }
    assert found[urls[1]].image_alt is None and found[urls[1]].title == "Story"
    off = dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, images=False))
    server.routes["/again"] = image_page("https://img.partner.org/a.jpg")
    again = server.url("/again")
    assert heads(off, [again], resolver=table_resolver(IMAGE_HOSTS))[again].image is None


def test_what_the_cache_holds_is_held_to_the_same_rules(config):
    from digest.curation.enrich import checked

    old = PageHead(
        URL,
        final_url="https://partner.example/" + "x" * 3000,
        title="Report \u202egnp.exe",
        canonical="javascript:alert(1)",
        image="https://10.0.0.7/pixel.gif",
        image_width=1200,
        image_height=630,
        image_alt="Alt",
    )
    assert checked(old) == PageHead(URL, title="Report gnp.exe")
    pixel = dataclasses.replace(old, image="https://img.partner.org/p.gif", image_width=1)
    assert checked(pixel).image is None
    fine = dataclasses.replace(old, image="https://img.partner.org/a.jpg")
    assert checked(fine).image == "https://img.partner.org/a.jpg"


# The build's bounds


def bounded(config, **enrich):
    return dataclasses.replace(config, enrich=dataclasses.replace(config.enrich, **enrich))


def enrichment(config, urls, **kwargs):
    links = [IssueLink(url, "weeknote", "Weeknote") for url in urls]
    with Store.open(config.db_path()) as store:
        return page_heads(links, config, store, NOW, **kwargs)


def test_at_most_max_per_host_pages_of_one_host_are_read_in_a_build(config, server):
    for n in range(5):
        server.routes[f"/p{n}"] = Reply(200, page(f"<title>P{n}</title>"), HTML)
    urls = [server.url(f"/p{n}") for n in range(5)]
    found = enrichment(bounded(config, max_per_host=3), urls)
    assert [found.heads[url].title for url in urls] == ["P0", "P1", "P2", None, None]
    assert found.heads[urls[3]].error == (
        "not read this build: more than 3 links to its host (enrich.max_per_host)"
    )
    assert found.unread == 2
    assert found.notes == (
        "2 linked pages left unread: more than 3 links to one host (enrich.max_per_host); "
        "later builds read them",
    )
    assert len(server.requests) == 3
    later = enrichment(bounded(config, max_per_host=3), urls)  # three cached, two read now
    assert [later.heads[url].title for url in urls] == ["P0", "P1", "P2", "P3", "P4"]


def test_with_no_network_reading_stops_after_five_hosts_in_a_row(config):
    asked = []

    def refuse(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        raise httpx.ConnectError("[Errno 101] Network is unreachable")

    hosts = [f"site{n}.org" for n in range(9)]
    resolver = table_resolver({host: ["93.184.215.14"] for host in hosts})
    urls = [f"https://{host}/story" for host in hosts]
    one_at_a_time = dataclasses.replace(
        config, fetch=dataclasses.replace(config.fetch, concurrency=1)
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    found = enrichment(one_at_a_time, urls, client=client, resolver=resolver)
    assert asked == hosts[:5]
    assert found.unread == 4
    assert found.notes == (
        "no network? 5 hosts in a row could not be reached (first: cannot connect ([Errno 101] "
        "Network is unreachable)); 4 more linked pages left unread: the next build reads them, "
        "or build with --offline",
    )
    assert found.heads[urls[8]].error == "not read this build: the network seemed to be down"
    with Store.open(config.db_path()) as store:  # nothing remembered of an outage
        assert store.db.execute("SELECT count(*) FROM page_heads").fetchone()[0] == 0


def test_one_dead_host_is_not_a_network_outage(config, server):
    server.routes["/fine"] = Reply(200, page("<title>Fine</title>"), HTML)
    asked = []
    resolver = table_resolver({}, asked)  # dead.org resolves nowhere
    urls = [f"https://dead.org/{n}" for n in range(8)] + [server.url("/fine")]
    found = enrichment(bounded(config, max_per_host=20), urls, resolver=resolver)
    assert asked == ["dead.org"]  # looked up once, not eight times
    assert found.heads[server.url("/fine")].title == "Fine"
    assert found.notes == () and found.unread == 0
    assert found.heads[urls[0]].error == "cannot connect (dead.org: Name or service not known)"


@pytest.mark.realclock
def test_pages_still_unread_at_the_deadline_are_left_for_the_next_build(config, server):
    import time

    slow = [b"<html><head>", b"<title>Slow</title>", b"</head></html>"]
    server.routes["/slow"] = Reply(200, slow, HTML, chunk_delay=2.0)
    server.routes["/quick"] = Reply(200, page("<title>Quick</title>"), HTML)
    urls = [server.url("/quick"), server.url("/slow")]
    started = time.monotonic()
    found = enrichment(bounded(config, deadline=0.5), urls)
    assert time.monotonic() - started < 1.5
    assert found.heads[urls[0]].title == "Quick"
    assert found.heads[urls[1]].error == "not read this build: enrich.deadline (0.5 s) ran out"
    assert found.notes == (
        "1 linked page left unread: enrich.deadline (0.5 s) ran out; the next build reads them",
    )
