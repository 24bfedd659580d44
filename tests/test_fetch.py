"""Fetching through the pipeline against a real loopback server, with a real SQLite file."""

import asyncio
import gzip
import time
import tracemalloc
import zlib

import httpx
import pytest

from digest.core.config import load_config
from digest.core.errors import FetchError
from digest.core.settings import FetchSettings
from digest.core.store import Store
from digest.pipeline import fetch_sources
from digest.sources.fetch import Fetcher
from tests.samples import NOW, atom, rss
from tests.server import Reply


def run(config_path, now=NOW, **kwargs):
    config = load_config(config_path)
    with Store.open(config.db_path()) as store:
        return fetch_sources(config, store, now, **kwargs), store.sources()


def conditional(body: bytes, etag: str = '"v1"'):
    def answer(headers):
        if headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(
            200,
            body,
            {
                "ETag": etag,
                "Last-Modified": "Mon, 23 Nov 2026 10:00:00 GMT",
                "Content-Type": "application/rss+xml",
            },
        )

    return answer


def test_conditional_get_then_304_costs_no_parsing(server, make_config):
    server.routes["/feed"] = conditional(rss(3))
    path = make_config([("Partner", server.url("/feed"))])
    (first,), _ = run(path)
    assert (first.status, first.items, first.new_items) == ("new", 3, 3)
    (second,), rows = run(path)
    assert (second.status, second.items, second.new_items) == ("unchanged", 3, 0)
    assert second.parse_seconds == 0
    first_request, second_request = server.hits("/feed")
    assert "if-none-match" not in first_request
    assert second_request["if-none-match"] == '"v1"'
    assert second_request["if-modified-since"] == "Mon, 23 Nov 2026 10:00:00 GMT"
    assert "digest/" in second_request["user-agent"]
    assert "+https://community.example" in second_request["user-agent"]
    assert rows[0]["etag"] == '"v1"' and rows[0]["last_status"] == "unchanged"


def test_identical_body_without_validators_is_unchanged(server, make_config):
    server.routes["/feed"] = Reply(200, rss(2))
    path = make_config([("Partner", server.url("/feed"))])
    run(path)
    (again,), _ = run(path)
    assert again.status == "unchanged" and again.items == 2


def test_changed_body_adds_only_new_items(server, make_config):
    server.routes["/feed"] = Reply(200, rss(2))
    path = make_config([("Partner", server.url("/feed"))])
    run(path)
    server.routes["/feed"] = Reply(200, rss(5))
    (report,), _ = run(path)
    assert (report.status, report.items, report.new_items) == ("new", 5, 3)


def test_permanent_redirect_is_remembered(server, make_config):
    server.routes["/old"] = Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = conditional(atom(2))
    path = make_config([("Partner", server.url("/old"))])
    (report,), rows = run(path)
    assert report.status == "moved" and report.items == 2
    assert report.note == f"moved permanently to {server.url('/new')}"
    assert rows[0]["url"] == server.url("/new") and rows[0]["key"] == server.url("/old")
    (again,), _ = run(path)
    assert again.status == "unchanged"
    assert len(server.hits("/old")) == 1  # the second run went straight to the new address


def test_temporary_redirect_is_followed_but_not_remembered(server, make_config):
    server.routes["/feed"] = Reply(302, headers={"Location": "/elsewhere"})
    server.routes["/elsewhere"] = Reply(200, rss(1))
    path = make_config([("Partner", server.url("/feed"))])
    (report,), rows = run(path)
    assert report.status == "new" and rows[0]["url"] == server.url("/feed")


def test_gone_retires_the_source(server, make_config):
    server.routes["/feed"] = Reply(410)
    path = make_config([("Partner", server.url("/feed"))])
    (report,), rows = run(path)
    assert report.status == "gone" and rows[0]["gone"] == 1
    (again,), _ = run(path)
    assert again.status == "gone" and len(server.hits("/feed")) == 1


def test_retry_after_is_honoured_once(server, make_config):
    answers = iter([Reply(429, headers={"Retry-After": "1"}), Reply(200, rss(1))])
    server.routes["/feed"] = lambda headers: next(answers)
    path = make_config([("Partner", server.url("/feed"))])
    (report,), _ = run(path)
    assert report.status == "new" and len(server.hits("/feed")) == 2
    assert report.seconds >= 1


def test_retry_after_beyond_the_cap_is_not_waited_for(server, make_config):
    server.routes["/feed"] = Reply(503, headers={"Retry-After": "3600"})
    path = make_config([("Partner", server.url("/feed"))])
    (report,), rows = run(path)
    assert report.status == "error" and report.error.startswith("HTTP 503")
    assert len(server.hits("/feed")) == 1 and rows[0]["last_error"] == report.error


def test_per_host_and_global_limits_hold():
    active = peak = 0

    async def handler(request):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return httpx.Response(200, content=rss(1))

    async def go():
        settings = FetchSettings(concurrency=8, per_host=2)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            fetcher = Fetcher(client, settings, "test")
            urls = [f"https://one.example/{i}" for i in range(10)]
            await asyncio.gather(*(fetcher.fetch(url) for url in urls))

    asyncio.run(go())
    assert peak == 2


class Host:
    """A MockTransport host that counts the requests it has at once: the most in all, and the
    most of those that came after it had answered one; each is answered after 20 ms."""

    def __init__(self, answer):
        self.answer = answer
        self.active = self.peak = self.answered = 0
        self.late = self.peak_late = 0  # requests that started after the first answer

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        late = self.answered > 0
        self.active += 1
        self.late += late
        self.peak = max(self.peak, self.active)
        self.peak_late = max(self.peak_late, self.late)
        await asyncio.sleep(0.02)
        self.active -= 1
        self.late -= late
        self.answered += 1
        return self.answer(request)


def fetch_conditionally(host: Host, count: int) -> None:
    async def go():
        settings = FetchSettings(per_host=2, revalidate_per_host=6)
        async with httpx.AsyncClient(transport=httpx.MockTransport(host)) as client:
            fetcher = Fetcher(client, settings, "test")
            urls = [f"https://one.example/{i}" for i in range(count)]
            await asyncio.gather(*(fetcher.fetch(url, etag='"v1"') for url in urls))

    asyncio.run(go())


def test_conditional_requests_go_revalidate_per_host_at_once():
    host = Host(lambda request: httpx.Response(304))
    fetch_conditionally(host, 14)
    assert host.peak == 6 and host.answered == 14


def test_a_host_that_sends_a_body_goes_back_to_per_host():
    # The first six went out together; once one of them brought a feed, the host has changed
    # feeds, and the rest are downloads: two at a time.
    host = Host(lambda request: httpx.Response(200, content=rss(1)))
    fetch_conditionally(host, 14)
    assert host.peak == 6 and host.peak_late == 2 and host.answered == 14


def test_a_warm_run_revalidates_more_sources_at_once_than_a_cold_one(make_config, tmp_path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=rss(2), headers={"ETag": '"v1"'})

    feeds = [(f"Feed {i}", f"https://one.example/{i}") for i in range(12)]
    path = make_config(feeds, fetch="  per_host: 2\n  revalidate_per_host: 5\n")
    peaks = []
    for _ in range(2):
        host = Host(answer)
        reports, _ = run(path, client=httpx.AsyncClient(transport=httpx.MockTransport(host)))
        peaks.append((host.peak, {report.status for report in reports}))
    assert peaks == [(2, {"new"}), (5, {"unchanged"})]


def test_body_cap_stops_a_huge_response_with_bounded_memory(server, make_config):
    chunk = b"<!-- padding -->" * 4096  # 64 KiB
    server.routes["/huge"] = lambda headers: Reply(200, (chunk for _ in range(800)))  # 50 MiB
    server.routes["/ok"] = Reply(200, rss(1))
    path = make_config(
        [("Huge", server.url("/huge")), ("Fine", server.url("/ok"))], fetch="  max_bytes: 1000000\n"
    )
    tracemalloc.start()
    try:
        huge, fine = run(path)[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert huge.status == "error"
    assert huge.error == "body larger than 1,000,000 bytes (fetch.max_bytes); stopped reading"
    assert fine.status == "new"
    assert peak < 20_000_000


def test_declared_length_over_the_cap_is_refused_before_reading():
    async def handler(request):
        return httpx.Response(200, headers={"Content-Length": "999999999"}, content=b"")

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await Fetcher(client, FetchSettings(), "test").fetch("https://a.example/")

    with pytest.raises(FetchError, match="it declares 999,999,999 bytes"):
        asyncio.run(go())


def test_gzip_is_decoded_and_counted_after_decompression(server, make_config):
    bomb = gzip.compress(b" " * 3_000_000)  # ~3 KB on the wire, 3 MB decoded
    server.routes["/gz"] = Reply(200, gzip.compress(rss(2)), {"Content-Encoding": "gzip"})
    server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})
    path = make_config(
        [("Gz", server.url("/gz")), ("Bomb", server.url("/bomb"))], fetch="  max_bytes: 1000000\n"
    )
    gz, bombed = run(path)[0]
    assert gz.status == "new" and gz.items == 2
    assert bombed.status == "error" and "fetch.max_bytes" in bombed.error
    assert "gzip" in server.hits("/gz")[0]["accept-encoding"]


def test_a_gzip_bomb_is_inflated_a_bounded_piece_at_a_time(server):
    from digest.sources.inflate import PIECE, decoded_pieces

    bomb = gzip.compress(b"\0" * 50_000_000)  # 49 KB on the wire
    server.routes["/bomb"] = Reply(200, bomb, {"Content-Encoding": "gzip"})

    async def sizes() -> list[int]:
        async with httpx.AsyncClient() as client, client.stream("GET", server.url("/bomb")) as r:
            return [len(piece) async for piece in decoded_pieces(r)]

    pieces = asyncio.run(sizes())
    assert sum(pieces) == 50_000_000 and max(pieces) == PIECE  # never more at once


@pytest.mark.parametrize(
    "encoding, body, expected",
    [
        ("deflate", zlib.compress(b"<rss/>"), b"<rss/>"),  # with a zlib header, as RFC 9110 says
        ("deflate", zlib.compress(b"<rss/>")[2:-4], b"<rss/>"),  # raw, as some servers send it
        ("gzip", gzip.compress(b"<rss/>") + b"trailing junk", b"<rss/>"),
        ("identity", b"<rss/>", b"<rss/>"),
    ],
)
def test_deflate_gzip_and_identity_decode(server, encoding, body, expected):
    from digest.sources.inflate import decoded_pieces

    server.routes["/x"] = Reply(200, body, {"Content-Encoding": encoding})

    async def read() -> bytes:
        async with httpx.AsyncClient() as client, client.stream("GET", server.url("/x")) as r:
            return b"".join([piece async for piece in decoded_pieces(r)])

    assert asyncio.run(read()) == expected


def test_an_encoding_digest_did_not_ask_for_is_refused(server, make_config):
    server.routes["/br"] = Reply(200, b"\x1b\x00", {"Content-Encoding": "br"})
    server.routes["/two"] = Reply(200, b"x", {"Content-Encoding": "gzip, deflate"})
    server.routes["/broken"] = Reply(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    feeds = [(name, server.url(f"/{name}")) for name in ("br", "two", "broken")]
    reports, _ = run(make_config(feeds))
    assert [r.error for r in reports] == [
        "the body is encoded as 'br'; digest asks for gzip or deflate only",
        "the body is encoded as 'gzip, deflate'; digest asks for gzip or deflate only",
        "the gzip body does not decompress (Error -3 while decompressing data: incorrect header "
        "check)",
    ]
    assert {r["accept-encoding"] for r in server.hits("/br")} == {"gzip, deflate"}


def test_a_redirect_to_an_overlong_url_is_refused(server, make_config):
    server.routes["/feed"] = Reply(302, headers={"Location": "/x?" + "a" * 3000})
    (report,), _ = run(make_config([("Long", server.url("/feed"))]))
    assert report.error.startswith("a 302 redirect to a URL of 3,0")
    assert report.error.endswith("characters (more than 2,048)")
    assert server.hits("/x?" + "a" * 3000) == []


def test_redirect_chain_longer_than_the_limit_is_refused(server, make_config):
    for hop in range(4):
        server.routes[f"/hop{hop}"] = Reply(302, headers={"Location": f"/hop{hop + 1}"})
    server.routes["/hop4"] = Reply(200, rss(1))
    path = make_config([("Far", server.url("/hop0"))], fetch="  max_redirects: 3\n")
    (report,), _ = run(path)
    assert report.error == "more than 3 redirects (fetch.max_redirects)"
    assert len(server.requests) == 4
    path = make_config([("Far", server.url("/hop0"))], fetch="  max_redirects: 4\n")
    assert run(path)[0][0].status == "new"


# One stalled host cannot sink the healthy feeds queued behind it


def stall(seconds: float):
    """A route that answers only after `seconds`: a server that has stopped responding."""

    def answer(headers):
        time.sleep(seconds)
        return Reply(200, rss(1))

    return answer


def six_stalled_then_three_healthy(server, make_config, fetch: str):
    for i in range(6):
        server.routes[f"/stalled/{i}"] = stall(3)
    for i in range(3):
        server.routes[f"/healthy/{i}"] = Reply(200, rss(2))
    feeds = [(f"Stalled {i}", server.url(f"/stalled/{i}")) for i in range(6)]
    feeds += [(f"Healthy {i}", server.url(f"/healthy/{i}")) for i in range(3)]
    return make_config(feeds, fetch=f"  per_host: 2\n  total_timeout: 0.6\n{fetch}")


@pytest.mark.realclock
def test_the_total_timeout_starts_when_the_request_does(server, make_config):
    # Two at a time, the six stalled feeds hold the host for 3 x 0.6 s before the healthy ones
    # get a slot: more than fetch.total_timeout, which must not count that wait.
    path = six_stalled_then_three_healthy(server, make_config, "")
    reports, _ = run(path)
    assert [(r.status, r.new_items) for r in reports[6:]] == [("new", 2)] * 3
    timed_out = "no complete answer within 0.6 s (fetch.total_timeout)"
    assert [r.error for r in reports[:6]] == [timed_out] * 6
    assert len(server.requests) == 9


@pytest.mark.realclock
def test_feeds_still_queued_when_the_run_ends_are_not_reached(server, make_config):
    # Stalled 0-1 time out at 0.6 s and stalled 2-3 at 1.2 s; the run ends at 0.9 s, while the
    # other five are still waiting for the host.
    path = six_stalled_then_three_healthy(server, make_config, "  run_timeout: 0.9\n")
    reports, rows = run(path)
    timed_out = "no complete answer within 0.6 s (fetch.total_timeout)"
    host = server.url("").split("//")[1]
    not_reached = (
        f"not reached: its host {host} was busy with other sources until fetch.run_timeout "
        "(0.9 s) ran out"
    )
    assert [r.error for r in reports] == [timed_out] * 4 + [not_reached] * 5
    assert len(server.requests) == 4
    assert {row["last_error"] for row in rows} == {timed_out, not_reached}


def test_sources_are_stored_unflushed_while_fetching_and_full_after(server, make_config):
    server.routes["/feed"] = conditional(rss(3))
    config = load_config(make_config([("Partner", server.url("/feed"))]))
    with Store.open(config.db_path()) as store:
        modes = []

        def on_report(report):
            modes.append(store.db.execute("PRAGMA synchronous").fetchone()[0])

        (report,) = fetch_sources(config, store, NOW, on_report=on_report)
        assert report.status == "new" and modes == [1]  # NORMAL while fetching
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL for the rest
