"""The address guard: redirects and URLs found in other sources may not lead a fetch into the
local network, unless the operator configured the source on it. httpx.MockTransport plays every
server and tests/resolver.py the DNS, so nothing here leaves the process."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

import httpx
import pytest

from digest.core.config import load_config
from digest.core.errors import FetchError
from digest.core.settings import FetchSettings
from digest.core.store import Store
from digest.pipeline import fetch_sources
from digest.sources.fetch import Fetcher
from digest.sources.guard import HINT, literal_address, non_public
from tests.resolver import table_resolver
from tests.samples import NOW, config_text, rss

PUBLIC = "93.184.215.14"  # a public address (example.com's)
NAMES = {
    "partner.example": [PUBLIC],
    "cdn.example": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", PUBLIC],
    "intranet.example": ["192.168.0.5"],
    "mixed.example": [PUBLIC, "10.0.0.5"],  # one non-public address is enough to refuse
    "localhost": ["127.0.0.1", "::1"],
}


# Which addresses are public


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("64:ff9b::a00:5", "a private address"),  # 10.0.0.5 through NAT64
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.0.5", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_non_public_addresses_are_named(address, kind):
    assert non_public(ip_address(address)) == kind


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("fe80::1%25eth0", "fe80::1%eth0"),
        ("partner.example", None),
    ],
)
def test_every_spelling_of_an_address_is_read_as_one(host, address):
    assert literal_address(host) == (address and ip_address(address))


# Redirects


def feed_that_redirects(location: str):
    """A MockTransport handler: /feed redirects to `location`, anything else is a feed. The
    URLs asked are appended to the list returned with it."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/feed":
            return httpx.Response(301, headers={"Location": location})
        return httpx.Response(200, content=rss(1))

    return answer, asked


def fetch(url: str, answer, configured: str | None = None, resolved: list | None = None):
    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            resolver = table_resolver(NAMES, resolved)
            fetcher = Fetcher(client, FetchSettings(), "test", resolver=resolver)
            return await fetcher.fetch(url, configured=configured)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("location", "found"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://intranet.example/", "intranet.example resolves to 192.168.0.5, a private address"),
        ("http://mixed.example/", "mixed.example resolves to 10.0.0.5, a private address"),
        ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
        ("http://0x7f.1:8080/", "0x7f.1 is 127.0.0.1, a loopback address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ],
)
def test_a_redirect_from_a_public_feed_into_the_local_network_is_refused(location, found):
    answer, asked = feed_that_redirects(location)
    with pytest.raises(FetchError) as refused:
        fetch("https://partner.example/feed", answer)
    assert refused.value.message == f"refused: {found} ({HINT})"
    assert asked == ["https://partner.example/feed"]  # the target was never asked


def test_a_redirect_to_a_public_address_is_followed_and_only_its_host_resolved():
    answer, asked = feed_that_redirects("https://cdn.example/feed.xml")
    resolved = []
    fetched = fetch("https://partner.example/feed", answer, resolved=resolved)
    assert fetched.url == "https://cdn.example/feed.xml"
    assert asked == ["https://partner.example/feed", "https://cdn.example/feed.xml"]
    assert resolved == ["cdn.example"]  # the configured host is not looked up


def test_a_redirect_on_the_configured_host_is_not_looked_up():
    answer, asked = feed_that_redirects("/feed.xml")
    resolved = []
    fetch("https://partner.example/feed", answer, resolved=resolved)
    assert asked[-1] == "https://partner.example/feed.xml" and resolved == []


@pytest.mark.parametrize(
    ("configured", "location", "resolved_names"),
    [
        ("http://127.0.0.1:8080/feed", "http://127.0.0.1:8080/new.xml", []),
        ("http://127.0.0.1:8080/feed", "http://127.0.0.1:9000/new.xml", []),
        ("http://127.0.0.1:8080/feed", "http://10.0.0.9/new.xml", []),
        # A configured name is looked up only to learn that it is itself local.
        ("http://localhost:8080/feed", "http://[::1]/new.xml", ["localhost"]),
    ],
)
def test_a_feed_configured_on_a_local_address_may_redirect_into_the_local_network(
    configured, location, resolved_names
):
    answer, asked = feed_that_redirects(location)
    resolved = []
    fetched = fetch(configured, answer, resolved=resolved)
    assert fetched.body and asked[-1] == fetched.url
    assert resolved == resolved_names


def test_a_remembered_redirect_is_checked_again_on_every_run():
    # digest fetches a moved source at its new address; that address may now be local.
    answer, asked = feed_that_redirects("/unused")
    with pytest.raises(FetchError, match=r"^refused: 10\.0\.0\.5 is a private address"):
        fetch("http://10.0.0.5/feed.xml", answer, configured="https://partner.example/feed")
    assert asked == []


def test_a_name_that_cannot_be_resolved_is_an_error_like_any_other_connection_failure():
    answer, asked = feed_that_redirects("http://nowhere.example/feed.xml")
    with pytest.raises(FetchError) as failed:
        fetch("https://partner.example/feed", answer)
    assert failed.value.message == "cannot connect (nowhere.example: Name or service not known)"
    assert asked == ["https://partner.example/feed"]


def test_a_name_that_did_not_resolve_is_not_asked_again_in_one_run():
    from digest.sources.guard import AddressGuard

    asked: list[str] = []
    guard = AddressGuard(table_resolver({"partner.example": [PUBLIC]}, asked))

    async def check_all():
        for path in range(50):
            with pytest.raises(FetchError, match=r"^cannot connect \(gone\.example: Name or"):
                await guard.check(f"https://gone.example/{path}", None)
        await guard.check("https://partner.example/1", None)
        await guard.check("https://partner.example/2", None)

    asyncio.run(check_all())
    assert asked == ["gone.example", "partner.example"]


# The weeknote post the blog feed names


def weeknote_from_blog(tmp_path, blog: str, post_site: str):
    """Fetch a blog feed (feed mode) whose newest post is on `post_site`; the reports and the
    URLs the servers were asked."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if str(request.url) == blog:
            return httpx.Response(200, content=rss(1, site=post_site))
        return httpx.Response(200, content=b"<html><article><p>Weeknote</p></article></html>")

    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([], extra=f"weeknote:\n  feed: {blog}\n"), encoding="utf-8")
    config = load_config(path)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with Store.open(config.db_path()) as store:
        return fetch_sources(config, store, NOW, client=client), asked


def test_a_weeknote_post_on_a_local_address_from_a_public_blog_is_refused(tmp_path):
    blog = f"http://{PUBLIC}/blog.xml"
    (feed, page), asked = weeknote_from_blog(tmp_path, blog, "http://10.0.0.7")
    assert feed.status == "new"
    assert (page.name, page.status) == ("Weeknote", "error")
    assert page.error == f"refused: 10.0.0.7 is a private address ({HINT})"
    assert asked == [blog]


def test_a_weeknote_post_on_a_local_address_from_a_local_blog_is_fetched(tmp_path):
    blog = "http://127.0.0.1:8080/blog.xml"
    (_, page), asked = weeknote_from_blog(tmp_path, blog, "http://10.0.0.7")
    assert (page.status, page.url) == ("new", "http://10.0.0.7/news/0")
    assert asked == [blog, "http://10.0.0.7/news/0"]
