"""The per-host connection pools of digest's HTTP client, on loopback."""

from __future__ import annotations

import asyncio

import httpx

from digest.sources.hostpool import HostPools, proxy_for
from tests.server import FeedServer, Reply


def test_each_host_gets_its_own_small_pool():
    with FeedServer("127.0.0.1") as one, FeedServer("127.0.0.2") as two:
        one.routes["/a"] = two.routes["/b"] = Reply(200, b"ok")

        async def fetch_all() -> tuple[list[int], int]:
            transport = HostPools(per_host=2)
            async with httpx.AsyncClient(transport=transport) as client:
                urls = [one.url("/a"), two.url("/b")] * 3
                answers = await asyncio.gather(*(client.get(url) for url in urls))
                return [a.status_code for a in answers], len(transport._pools)

        statuses, pools = asyncio.run(fetch_all())
    assert statuses == [200] * 6 and pools == 2


def test_proxies_come_from_the_environment(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert proxy_for(httpx.URL("https://partner.example/feed")) is None
    monkeypatch.setenv("https_proxy", "proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "intranet.example")
    assert proxy_for(httpx.URL("https://partner.example/feed")) == "http://proxy.internal:3128"
    assert proxy_for(httpx.URL("http://partner.example/feed")) is None
    assert proxy_for(httpx.URL("https://intranet.example/feed")) is None
