"""An httpx transport with a connection pool per host.

httpcore's connection pool looks at every connection it holds whenever a request starts or
ends, so one pool for a run across many hosts costs CPU that grows with the square of the open
connections: a fifth of the CPU of a warm run of 100 feeds. digest never has more than
`per_host` requests on one host at a time anyway, so a small pool per host does the same work
for a fraction of the cost.

Proxies come from the environment (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`), as
httpx's own client would take them.
"""

from __future__ import annotations

import ssl
import urllib.request

import httpx


class HostPools(httpx.AsyncBaseTransport):
    """Sends each request through the pool of its scheme, host and port, made on first use."""

    def __init__(self, per_host: int):
        self._limits = httpx.Limits(max_connections=per_host, max_keepalive_connections=per_host)
        self._pools: dict[tuple[str, str, int | None], httpx.AsyncHTTPTransport] = {}
        self._tls: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port)
        if key not in self._pools:
            self._pools[key] = httpx.AsyncHTTPTransport(
                verify=self._context(url.scheme), limits=self._limits, proxy=proxy_for(url)
            )
        return await self._pools[key].handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()

    def _context(self, scheme: str) -> ssl.SSLContext:
        """One verifying TLS context for every https pool, made when the first is: loading the
        CA certificates takes ~50 ms, which a run over plain http need not pay. A plain http
        pool never uses its context, so it gets one that trusts no certificate at all."""
        if scheme != "https":
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls


def proxy_for(url: httpx.URL) -> str | None:
    """The proxy the environment names for `url`, or None for a direct connection."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"
