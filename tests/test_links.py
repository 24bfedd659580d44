"""Link checking against real loopback servers (127.0.0.1 and 127.0.0.2) and a real SQLite file.

The links checked here come from a feed configured on 127.0.0.1 (`check` says so), which is what
lets them lead to loopback; links from a public source may not (tests/test_guard.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest

from digest.cli.links import links
from digest.core.config import load_config
from digest.core.errors import DigestError
from digest.core.models import Issue, IssueItem, IssueTheme
from digest.core.store import Store
from digest.sources.links import (
    BrokenLinksError,
    IssueLink,
    LinkResult,
    broken_share,
    cached_results,
    check_links,
    issue_links,
    no_connection,
    refuse_broken,
    send_verdict,
    summarise,
    summary_line,
)
from tests.resolver import table_resolver
from tests.samples import NOW, cli, rss
from tests.server import FeedServer, Reply

TIMEOUT = 0.5  # links.timeout in these tests: long enough for loopback, short enough to wait
LOCAL_FEED = "Local feed"  # configured on 127.0.0.1 by config_path


@pytest.fixture
def site():
    with FeedServer() as running:
        yield running


@pytest.fixture
def config_path(make_config):
    def make(timeout=TIMEOUT, concurrency=16, per_host=2, max_redirects=3, cache_hours=24):
        return make_config(
            [(LOCAL_FEED, "http://127.0.0.1/feed.xml")],
            fetch=f"  max_redirects: {max_redirects}\n",
            extra=(
                f"links:\n  timeout: {timeout}\n  concurrency: {concurrency}\n"
                f"  per_host: {per_host}\n  cache_hours: {cache_hours}\n"
            ),
        )

    return make


def check(path, urls, now=NOW, **kwargs) -> list[LinkResult]:
    """Check `urls` as links of the feed configured on 127.0.0.1, so they may lead to loopback."""
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        found = [IssueLink(url, "feed", LOCAL_FEED) for url in urls]
        return check_links(found, config, store, now, **kwargs)


def rows(path) -> dict[str, dict]:
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        return {row["url"]: dict(row) for row in store.db.execute("SELECT * FROM link_checks")}


class Gauge:
    """Counts the requests in progress and remembers the most at once."""

    def __init__(self):
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self):
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc):
        with self._lock:
            self.now -= 1


def slow(seconds: float, *gauges: Gauge, reply: Reply | None = None):
    """A route that takes `seconds` to answer, counted by every gauge."""

    def answer(headers):
        for gauge in gauges:
            gauge.__enter__()
        time.sleep(seconds)
        for gauge in gauges:
            gauge.__exit__()
        return reply or Reply(200)

    return answer


def redirect(status: int, to: str) -> Reply:
    return Reply(status, headers={"Location": to})


# Every kind of answer

EXPECTED = {
    # path: (outcome, status, final path or None, words in the detail or None)
    "/ok": ("ok", 200, None, None),
    "/no-head": ("ok", 200, None, None),
    "/head-404": ("ok", 200, None, None),
    "/moved": ("redirected", 200, "/ok", "moved permanently (301): use the final URL"),
    "/temporary": ("redirected", 200, "/ok", "temporary redirect (302): keep this URL"),
    "/chain": ("redirected", 200, "/ok", "moved permanently (308)"),
    "/loop-a": ("error", 302, "/loop-b", "redirect loop (302 back to"),
    "/hop/0": ("error", 302, "/hop/3", "more than 3 redirects (fetch.max_redirects)"),
    "/missing": ("client-error", 404, None, "HTTP 404 Not Found"),
    "/moved-away": ("client-error", 404, "/missing", "HTTP 404"),
    "/gone": ("client-error", 410, None, "HTTP 410 Gone: gone for good"),
    "/forbidden": ("client-error", 403, None, "try it in a browser"),
    "/broken": ("server-error", 500, None, "HTTP 500 Internal Server Error"),
    "/unavailable": ("server-error", 503, None, "HTTP 503 Service Unavailable"),
    "/busy": ("ok", 429, None, "rate limited, so not verified"),
    "/no-location": ("error", 302, None, "HTTP 302 Found without a Location"),
}


def every_kind_of_answer(site: FeedServer) -> None:
    site.routes.update(
        {
            "/ok": Reply(200, b"hello"),
            "HEAD /no-head": Reply(405),
            "/no-head": Reply(200, b"hello"),
            "HEAD /head-404": Reply(404),  # a server that only routes GET
            "/head-404": Reply(200, b"hello"),
            "/moved": redirect(301, "/ok"),
            "/temporary": redirect(302, site.url("/ok")),
            "/chain": redirect(308, "/temporary"),
            "/loop-a": redirect(302, "/loop-b"),
            "/loop-b": redirect(302, "/loop-a"),
            **{f"/hop/{i}": redirect(302, f"/hop/{i + 1}") for i in range(10)},
            "/missing": Reply(404),
            "/moved-away": redirect(301, "/missing"),
            "/gone": Reply(410),
            "/forbidden": Reply(403),
            "/broken": Reply(500),
            "/unavailable": Reply(503),
            "/busy": Reply(429, headers={"Retry-After": "3600"}),
            "/no-location": Reply(302),
        }
    )


def test_every_kind_of_answer(site, config_path):
    every_kind_of_answer(site)
    results = check(config_path(), [site.url(path) for path in EXPECTED])
    for (path, (outcome, status, final, words)), result in zip(
        EXPECTED.items(), results, strict=True
    ):
        assert result.url == site.url(path)
        assert (result.outcome, result.status) == (outcome, status), path
        assert result.final_url == (final and site.url(final)), path
        assert (words or "") in (result.detail or ""), (path, result.detail)
        assert result.detail is not None or words is None, path
        assert result.broken == (outcome not in ("ok", "redirected")), path
        assert not result.cached


def test_head_first_and_get_only_when_head_is_refused(site, config_path):
    every_kind_of_answer(site)
    check(config_path(), [site.url(p) for p in ("/ok", "/no-head", "/missing", "/busy")])
    assert site.methods("/ok") == ["HEAD"]
    assert site.methods("/no-head") == ["HEAD", "GET"]
    assert site.methods("/missing") == ["HEAD", "GET"]  # confirmed before it is called broken
    assert site.methods("/busy") == ["HEAD"]  # asking again would make a rate limit worse


def test_redirects_are_followed_with_get_once_head_is_refused(site, config_path):
    site.routes["HEAD /old"] = Reply(405)
    site.routes["/old"] = redirect(301, "/new")
    site.routes["/new"] = Reply(200)
    (result,) = check(config_path(), [site.url("/old")])
    assert (result.outcome, result.final_url) == ("redirected", site.url("/new"))
    assert site.methods("/new") == ["GET"]


def test_get_fallback_reads_no_body(site, config_path):
    # 3 s of trickled body: reading it would blow the 0.5 s budget.
    site.routes["HEAD /big"] = Reply(405)
    site.routes["/big"] = Reply(200, [b"x" * 1000] * 60, chunk_delay=0.05)
    start = time.monotonic()
    (result,) = check(config_path(), [site.url("/big")])
    assert (result.outcome, result.status) == ("ok", 200)
    assert time.monotonic() - start < 2  # the body alone takes 3 s


def test_requests_name_digest(site, config_path):
    site.routes["/ok"] = Reply(200)
    check(config_path(), [site.url("/ok")])
    (_, _, headers), *_ = site.requests
    assert headers["user-agent"].startswith("digest/")
    assert "+https://community.example" in headers["user-agent"]


def test_results_in_input_order_and_each_link_asked_once(site, config_path):
    site.routes["/a"] = Reply(200)
    site.routes["/b"] = Reply(404)
    urls = [site.url("/b"), site.url("/a"), site.url("/b")]
    results = check(config_path(), urls)
    assert [r.url for r in results] == urls
    assert [r.outcome for r in results] == ["client-error", "ok", "client-error"]
    assert site.methods("/b") == ["HEAD", "GET"]


# Failures without an HTTP answer


@pytest.mark.realclock
def test_a_server_that_never_answers_times_out(site, config_path):
    site.routes["/slow"] = slow(2.0)
    site.routes["/ok"] = Reply(200)
    start = time.monotonic()
    slow_one, ok = check(config_path(), [site.url("/slow"), site.url("/ok")])
    assert time.monotonic() - start < 1.5  # the server would take 2 s
    assert (slow_one.outcome, slow_one.status) == ("timeout", None)
    assert slow_one.detail == "no answer within 0.5 s (links.timeout)"
    assert ok.outcome == "ok"  # one slow link never holds up the others


@pytest.mark.realclock
def test_the_timeout_covers_the_whole_redirect_chain(site, config_path):
    # Each hop answers in time; together they do not.
    for i in range(3):
        site.routes[f"/step/{i}"] = slow(0.2, reply=redirect(302, f"/step/{i + 1}"))
    site.routes["/step/3"] = Reply(200)
    (result,) = check(config_path(max_redirects=5), [site.url("/step/0")])
    assert result.outcome == "timeout"


@pytest.mark.realclock
def test_waiting_for_a_slot_does_not_count_against_the_timeout(site, config_path):
    # One at a time, 4 x 0.2 s: the last waits 0.6 s in the queue, more than links.timeout.
    for i in range(4):
        site.routes[f"/queued/{i}"] = slow(0.2)
    results = check(config_path(per_host=1), [site.url(f"/queued/{i}") for i in range(4)])
    assert [r.outcome for r in results] == ["ok"] * 4


def test_connection_refused_is_an_error(config_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (result,) = check(config_path(), [f"http://127.0.0.1:{port}/page"])
    assert (result.outcome, result.status, result.broken) == ("error", None, True)
    assert result.detail.startswith("cannot connect (")


def test_a_reset_connection_is_an_error(site, config_path):
    site.routes["/reset"] = Reply(reset=True)
    (result,) = check(config_path(), [site.url("/reset")])
    assert result.outcome == "error"
    assert result.detail.startswith("connection broken (")


def test_dns_and_tls_failures_through_a_mock_transport(config_path):
    asked = []

    def fail(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        if request.url.host == "nowhere.example.org":
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate has expired")

    public = ["93.184.215.14"]
    resolve = table_resolver({"nowhere.example.org": public, "expired.example.org": public})
    client = httpx.AsyncClient(transport=httpx.MockTransport(fail))
    urls = [
        "https://nowhere.example.org/",
        "https://expired.example.org/",
        "https://unknown.example.org/",
    ]
    dns, tls, unknown, other = check(
        config_path(), [*urls, "mailto:editor@example.org"], client=client, resolver=resolve
    )
    assert (dns.outcome, dns.detail) == (
        "error",
        "cannot connect ([Errno -2] Name or service not known)",
    )
    assert tls.outcome == "error" and "CERTIFICATE_VERIFY_FAILED" in tls.detail
    # The address guard resolves a link's host first: a name it cannot find is never asked.
    assert (unknown.outcome, unknown.detail) == (
        "error",
        "cannot connect (unknown.example.org: Name or service not known)",
    )
    assert (other.outcome, other.detail) == ("error", "not an http(s) link")
    assert sorted(asked) == ["expired.example.org", "nowhere.example.org"]


# Politeness


@pytest.mark.realclock
def test_at_most_per_host_requests_at_once_to_one_host(site, config_path):
    gauge = Gauge()
    for i in range(6):
        site.routes[f"/page/{i}"] = slow(0.1, gauge)
    results = check(config_path(per_host=2), [site.url(f"/page/{i}") for i in range(6)])
    assert all(r.outcome == "ok" for r in results)
    assert gauge.most == 2


@pytest.mark.realclock
@pytest.mark.parametrize(("concurrency", "per_host", "most_in_all"), [(16, 1, 2), (1, 2, 1)])
def test_hosts_are_checked_side_by_side_up_to_the_global_cap(
    config_path, concurrency, per_host, most_in_all
):
    everywhere, first, second = Gauge(), Gauge(), Gauge()
    with FeedServer("127.0.0.1") as one, FeedServer("127.0.0.2") as two:
        for server, gauge in ((one, first), (two, second)):
            for i in range(3):
                server.routes[f"/p/{i}"] = slow(0.1, everywhere, gauge)
        urls = [server.url(f"/p/{i}") for i in range(3) for server in (one, two)]
        path = config_path(concurrency=concurrency, per_host=per_host, timeout=2)
        # A client whose pool allows more than links.concurrency: the checker's caps must hold.
        # (No keep-alive: no pooled socket outlives the event loop.)
        client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        results = check(path, urls, client=client)
    assert all(r.outcome == "ok" for r in results)
    assert everywhere.most == most_in_all
    assert max(first.most, second.most) <= per_host


# The cache


def test_healthy_results_are_reused_within_cache_hours_and_broken_ones_asked_again(
    site, config_path
):
    site.routes["/ok"] = Reply(200)
    site.routes["/moved"] = redirect(301, "/ok")
    site.routes["/missing"] = Reply(404)
    path = config_path(cache_hours=24)
    urls = [site.url(p) for p in ("/ok", "/moved", "/missing")]
    check(path, urls)
    asked = len(site.requests)
    ok, moved, missing = check(path, urls, now=NOW + timedelta(hours=23))
    assert (ok.cached, moved.cached, missing.cached) == (True, True, False)
    assert (moved.outcome, moved.final_url) == ("redirected", site.url("/ok"))
    assert ok.checked_at == NOW
    assert [m for m, p, _ in site.requests[asked:]] == ["HEAD", "GET"]  # /missing only
    assert not any(r.cached for r in check(path, urls, now=NOW + timedelta(hours=25)))


def test_no_cache_checks_again_and_stores_the_fresh_result(site, config_path):
    site.routes["/page"] = Reply(200)
    path = config_path()
    check(path, [site.url("/page")])
    site.routes["/page"] = Reply(500)
    (result,) = check(path, [site.url("/page")], now=NOW + timedelta(hours=1), use_cache=False)
    assert (result.outcome, result.cached) == ("server-error", False)
    stored = rows(path)[site.url("/page")]
    assert (stored["outcome"], stored["status"]) == ("server-error", 500)
    assert stored["checked_at"] == (NOW + timedelta(hours=1)).isoformat()


def test_rate_limited_answers_are_not_reused(site, config_path):
    site.routes["/busy"] = Reply(429)
    path = config_path()
    check(path, [site.url("/busy")])
    check(path, [site.url("/busy")], now=NOW + timedelta(minutes=5))
    assert site.methods("/busy") == ["HEAD", "HEAD"]


def test_cached_results_include_broken_links_and_old_rows_are_dropped(site, config_path):
    site.routes["/missing"] = Reply(404)
    site.routes["/ok"] = Reply(200)
    path = config_path(cache_hours=24)
    check(path, [site.url("/missing")])
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        known = cached_results([site.url("/missing"), site.url("/ok")], config, store, NOW)
    assert list(known) == [site.url("/missing")] and known[site.url("/missing")].broken
    check(path, [site.url("/ok")], now=NOW + timedelta(hours=30))
    assert list(rows(path)) == [site.url("/ok")]


# Summaries


def result(outcome: str, status: int | None = 200, cached: bool = False) -> LinkResult:
    return LinkResult("https://x.example/", outcome, status, None, None, NOW, cached)


def test_broken_share_summary_and_refusal(config_path):
    results = [result("ok"), result("ok", 429), result("redirected", cached=True)]
    results += [result("client-error", 404), result("timeout", None)] + [result("ok")] * 5
    assert broken_share(results) == 0.2 and broken_share([]) == 0.0
    counts = summarise(results)
    assert (counts["links"], counts["ok"], counts["broken"]) == (10, 7, 2)
    assert (counts["rate_limited"], counts["cached"], counts["timeout"]) == (1, 1, 1)
    assert summary_line(results) == (
        "10 links: 7 ok, 1 redirected (where moved permanently, use the final URL), 2 broken; "
        "1 rate limited, so not verified; 1 healthy from the cache (--no-cache checks them again)"
    )
    config = load_config(config_path())  # max_broken_share 0.1
    with pytest.raises(BrokenLinksError) as refused:
        refuse_broken(results, config)
    assert isinstance(refused.value, DigestError)
    assert refused.value.message == "2 of 10 links are broken (20%; links.max_broken_share is 10%)"
    refuse_broken(results[:3] + [result("ok")] * 7, config)  # none broken: no error


def test_issue_links_are_the_weeknote_and_every_item_once_with_their_source():
    def item(url: str, origin: str = "feed", source: str = "Feed") -> IssueItem:
        return IssueItem(url, url, "t", "b", source, origin, "Theme", "r")

    theme = IssueTheme(
        "Theme",
        "theme",
        (item("https://a.example/1", "weeknote", "Weeknote"), item("mailto:x@example.org")),
        more=(item("https://a.example/2"), item("https://a.example/1")),
    )
    issue = Issue(
        "2026-W48", "T", NOW, NOW, NOW, "", None, "https://w.example/note", (theme,), (), (), ()
    )
    assert issue_links(issue) == [
        IssueLink("https://w.example/note", "weeknote", "Weeknote"),
        IssueLink("https://a.example/1", "weeknote", "Weeknote"),  # the first of a URL wins
        IssueLink("https://a.example/2", "feed", "Feed"),
    ]
    local = Issue(
        "2026-W48", "T", NOW, NOW, NOW, "", None, "file:///tmp/w.html", (theme,), (), (), ()
    )
    assert issue_links(local)[0].url == "https://a.example/1"


# Where links may lead


def test_links_from_public_sources_may_not_lead_into_the_local_network(make_config, tmp_path):
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.host == "news.example.org":
            return httpx.Response(301, headers={"Location": "http://169.254.169.254/latest/"})
        return httpx.Response(200)

    (tmp_path / "weeknote.html").write_text("<article><p>A local weeknote.</p></article>")
    path = make_config(
        [("Public", "https://partner.example/feed"), (LOCAL_FEED, "http://127.0.0.1/feed.xml")],
        extra="weeknote:\n  url: weeknote.html\n",
    )
    found = [
        IssueLink("http://10.1.2.3/report", "feed", "Public"),
        IssueLink("http://10.1.2.3/intranet", "feed", LOCAL_FEED),
        IssueLink("https://news.example.org/story", "feed", "Public"),
        IssueLink("http://192.168.1.1/", "weeknote", "Weeknote"),  # a local file is no excuse
        "http://127.0.0.1:9/plain",  # a plain URL comes from no source
    ]
    config = load_config(path)
    resolve = table_resolver(
        {"partner.example": ["93.184.215.14"], "news.example.org": ["1.1.1.1"]}
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with Store.open(config.db_path()) as store:
        results = check_links(found, config, store, NOW, client=client, resolver=resolve)
    refused = "refused: {} ({})".format
    hint = "a public source's links and redirects may not lead into the local network"
    assert [(r.outcome, r.detail) for r in results] == [
        ("error", refused("10.1.2.3 is a private address", hint)),
        ("ok", None),
        ("error", refused("169.254.169.254 is a cloud metadata address", hint)),
        ("error", refused("192.168.1.1 is a private address", hint)),
        ("error", refused("127.0.0.1 is a loopback address", hint)),
    ]
    assert sorted(asked) == ["http://10.1.2.3/intranet", "https://news.example.org/story"]


# The command


@pytest.fixture
def issue_site(site, make_config):
    """A feed on the loopback server whose three items link back to it: ok, 404, moved."""
    site.routes["/feed"] = Reply(200, rss(3, site=site.url("")))
    site.routes["/news/0"] = Reply(200)
    site.routes["/news/1"] = Reply(404)
    site.routes["/news/2"] = redirect(301, "/news/0")
    path = make_config([("Partner", site.url("/feed"))], extra=f"links:\n  timeout: {TIMEOUT}\n")
    return site, path


def invoke(*args):
    return cli("links", *args)


def test_links_command_table_summary_and_exit_codes(issue_site):
    site, path = issue_site
    never_fetched = invoke("-c", path)
    assert never_fetched.exit_code == 1
    assert f"Error: no state database at {path.parent / 'state.db'}" in never_fetched.output
    first = invoke("-c", path, "--refresh")
    assert first.exit_code == 3, first.output
    lines = first.stdout.splitlines()
    assert lines[0].split() == ["outcome", "status", "url", "final", "URL", "/", "detail"]
    assert lines[1].split()[:3] == ["ok", "200", site.url("/news/0")]
    assert lines[2].split()[:4] == ["redirected", "200", site.url("/news/2"), "→"]
    assert lines[3].split()[:3] == ["client-error", "404", site.url("/news/1")]
    assert "3 links: 1 ok, 1 redirected" in first.stdout and ", 1 broken" in first.stdout
    assert "33% of the links are broken" in first.stdout
    assert "digest send would refuse" in first.stdout
    site.routes["/news/1"] = Reply(200)
    fixed = invoke("-c", path)
    assert fixed.exit_code == 0, fixed.output
    assert "2 healthy from the cache" in fixed.stdout and "would refuse" not in fixed.stdout


def test_links_command_json_and_no_cache(issue_site):
    site, path = issue_site
    first = invoke("-c", path, "--refresh", "--json")
    assert first.exit_code == 3
    data = json.loads(first.stdout)
    by_url = {row["url"]: row for row in data["links"]}
    assert by_url[site.url("/news/1")]["outcome"] == "client-error"
    assert by_url[site.url("/news/1")]["broken"] is True
    assert by_url[site.url("/news/2")]["final_url"] == site.url("/news/0")
    assert data["summary"]["links"] == 3 and data["summary"]["broken"] == 1
    asked = len(site.requests)
    again = json.loads(invoke("-c", path, "--json", "--no-cache").stdout)
    assert again["summary"]["cached"] == 0
    assert len(site.requests) > asked + 3  # every link asked again, /news/1 twice (HEAD, GET)


def test_links_command_refuses_a_bad_issue_id(issue_site):
    _, path = issue_site
    result = invoke("-c", path, "--issue", "next week")
    assert result.exit_code == 2 and "is not an issue id" in result.output


def test_the_command_module_imports_no_network_code():
    # `digest --help` must stay quick: httpx and the checker load only when the command runs.
    code = (
        "import sys, digest.cli.links; "
        "print('httpx' in sys.modules, 'digest.sources.links' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["False", "False"], run.stderr
    assert {p.name for p in links.params} >= {"config_path", "db_path", "issue_id", "as_json"}


# What digest send would make of the results, and a machine with no network


def link(url: str, outcome: str = "ok", detail: str | None = None) -> LinkResult:
    return LinkResult(url, outcome, 200 if outcome == "ok" else None, None, detail, NOW)


def test_the_verdict_is_what_the_send_would_decide(make_config):
    config = load_config(make_config([], extra="links:\n  max_broken_share: 0.2\n"))
    two_of_five = [link(f"https://x.example/{n}", "error" if n < 2 else "ok") for n in range(5)]
    assert send_verdict(two_of_five, config) == (
        "digest send would refuse this issue: 40% of the links are broken, more than "
        "links.max_broken_share (20%); --force sends"
    )
    one_of_five = [*two_of_five[1:], link("https://x.example/5")]
    assert send_verdict(one_of_five, config) == (
        "digest send would go ahead: 20% of the links are broken, within "
        "links.max_broken_share (20%)"
    )
    unchecked = load_config(make_config([], extra="links:\n  before_send: false\n"))
    assert send_verdict(two_of_five, unchecked) == (
        "digest send does not check links (links.before_send: false)"
    )


def test_links_on_names_that_do_not_resolve_say_no_network_once(config_path):
    path = config_path()
    urls = [f"https://site-{n}.example.net/page" for n in range(6)]
    results = check(path, urls, resolver=table_resolver({}))
    assert all(r.broken and r.detail.startswith("cannot connect") for r in results)
    line = no_connection(results)
    assert line.startswith("no network? none of the 6 links could be reached (first: cannot")
    assert no_connection([*results, link("https://up.example/")]) is None
    assert no_connection(results[:1]) is None  # one dead site is just a dead site


def test_links_on_a_closed_loopback_port_say_no_network_once(config_path):
    results = check(config_path(), [f"http://127.0.0.1:9/{n}" for n in range(3)])
    assert no_connection(results).startswith("no network? none of the 3 links")


def test_links_command_ends_with_the_send_verdict(issue_site):
    _, path = issue_site
    first = invoke("-c", path, "--refresh")
    assert first.stdout.splitlines()[-1] == (
        "digest send would refuse this issue: 33% of the links are broken, more than "
        "links.max_broken_share (10%); --force sends"
    )


def test_links_command_with_no_link_reachable_prints_one_line(site, make_config):
    site.routes["/feed"] = Reply(200, rss(3, site="http://127.0.0.1:9"))
    path = make_config([("Partner", site.url("/feed"))], extra=f"links:\n  timeout: {TIMEOUT}\n")
    result = invoke("-c", path, "--refresh")
    assert result.exit_code == 3, result.output
    [line] = result.stdout.splitlines()  # not a table of three identical errors
    assert line.startswith("no network? none of the 3 links could be reached")
    assert "--offline" not in result.output  # digest links has no such option


# Links on reserved names


def test_links_on_reserved_names_are_example_links_never_asked_nor_broken(config_path):
    path = config_path()
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    urls = ["https://partner.example/a", "http://x.test/", "https://y.invalid./b"]
    results = check(
        path,
        [*urls, "https://public.example.org/"],
        client=client,
        resolver=table_resolver({"public.example.org": ["93.184.215.14"]}),
    )
    assert [(r.outcome, r.detail, r.broken) for r in results[:3]] == [
        ("example", "example link, not checked", False)
    ] * 3
    assert results[3].outcome == "ok" and asked == ["https://public.example.org/"]
    assert set(rows(path)) == {"https://public.example.org/"}  # nothing stored of examples
    assert broken_share([*results, link("https://down.example.org/", "error")]) == 0.5
    assert broken_share([*results, link("https://down.example.org/", "error")]) == 0.5
    assert summary_line(results) == (
        "4 links: 1 ok, 0 redirected, 0 broken; 3 on example names (.example, .test, .invalid), "
        "not checked"
    )


def test_an_example_link_an_older_digest_stored_as_broken_is_an_example_link(config_path):
    path = config_path()
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        store.db.execute(
            "INSERT INTO link_checks (url, outcome, status, final_url, detail, checked_at)"
            " VALUES ('https://partner.example/a', 'error', NULL, NULL, 'cannot connect', ?)",
            (NOW.isoformat(),),
        )
        (result,) = cached_results(["https://partner.example/a"], config, store, NOW).values()
    assert (result.outcome, result.broken) == ("example", False)
