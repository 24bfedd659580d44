"""Keep URLs that third parties supply off the local network (server-side request forgery).

A redirect's Location, the weeknote post picked from the blog feed and every link `digest links`
checks come from other people's servers. Requested blindly, they would let those servers make
digest reach what only the machine running it can: a router's admin page, a database, the cloud
metadata service that hands out credentials. So before such a URL is requested, every address
its host resolves to must be public. The exception is a source the operator configured on a
non-public address (an internal feed server): what it leads to may be non-public too.

Residual window: the guard resolves a name, then httpx resolves it again to connect, so a name
whose answer changes in between (DNS rebinding, with a zero TTL) can still slip through. Closing
it means connecting to the checked address itself (the address in the URL with Host and TLS
server name set by hand, or a custom httpcore network backend); not done, because either gives
up httpx's trying of each address of a host in turn and its proxy support.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import unquote, urlsplit

import httpx

from digest.core.errors import FetchError

Address = IPv4Address | IPv6Address
Resolver = Callable[[str], Awaitable[Iterable[str]]]  # a host name -> its addresses, as text

# Cloud metadata services: AWS, Google Cloud and Azure (and AWS over IPv6), AWS ECS, Alibaba.
METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
NAT64 = IPv6Network("64:ff9b::/96")  # IPv4 addresses spelled in IPv6, reached through NAT64
UNIQUE_LOCAL = IPv6Network("fc00::/7")
KINDS = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "an unspecified address"),
    ("is_reserved", "a reserved address"),
    ("is_private", "a private address"),
)
HINT = "a public source's links and redirects may not lead into the local network"


async def system_resolver(host: str) -> list[str]:
    """The addresses the operating system gives for `host`: what connecting to it would use."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def non_public(address: Address) -> str | None:
    """What kind of non-public address this is ("a loopback address"), or None if public."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = IPv4Address(int(address) & 0xFFFF_FFFF)
    if address in METADATA:
        return "a cloud metadata address"
    if isinstance(address, IPv6Address) and address in UNIQUE_LOCAL:
        return "a unique-local address"
    for test, kind in KINDS:
        if getattr(address, test):
            return kind
    # Shared address space (100.64.0.0/10) and the like: neither private nor reachable publicly.
    return None if address.is_global else "a non-public address"


def literal_address(host: str) -> Address | None:
    """The address a host name spells, in any form getaddrinfo accepts: 10.0.0.1, ::1, and the
    odd IPv4 ones (2130706433, 0x7f.1, 127.1) that connecting would turn into an address too."""
    try:
        return ip_address(unquote(host))  # an IPv6 zone arrives %-encoded: fe80::1%25eth0
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class AddressGuard:
    """Decides whether a URL that came from a third party may be requested. Answers of the
    resolver are kept for the guard's life (one run), failures too: a thousand links to a host
    that does not resolve (or to any host, with no network) cost one lookup, not a thousand."""

    def __init__(self, resolver: Resolver = system_resolver):
        self.resolver = resolver
        self._resolved: dict[str, list[Address]] = {}
        self._failed: dict[str, str] = {}  # host -> why it did not resolve

    async def check(self, url: str, configured: str | None) -> None:
        """Raise FetchError unless `url` may be requested: it is on the host of `configured`
        (the URL the operator configured for the source it came from; None when there is none),
        every address of its host is public, or `configured` is itself on a non-public one."""
        if url == configured:
            return  # the usual case, decided without parsing either (a run asks it per request)
        host = _host(url)
        if configured is not None and host == _host(configured):
            return  # the operator's own choice: never resolved for this check
        found = await self._first_non_public(host)
        if found is None or (configured is not None and await self._is_non_public(configured)):
            return
        raise FetchError(f"refused: {_found(host, *found)} ({HINT})")

    async def _is_non_public(self, configured: str) -> bool:
        """Whether the operator configured a source on a non-public address. A local file is
        not on one, and neither is a host that no longer resolves."""
        if urlsplit(configured).scheme not in ("http", "https"):
            return False
        try:
            return await self._first_non_public(_host(configured)) is not None
        except FetchError:
            return False

    async def _first_non_public(self, host: str) -> tuple[Address, str] | None:
        for address in await self._addresses(host):
            kind = non_public(address)
            if kind:
                return address, kind
        return None

    async def _addresses(self, host: str) -> list[Address]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        if host in self._failed:
            raise FetchError(self._failed[host])
        if host not in self._resolved:
            try:
                found = [ip_address(address) for address in await self.resolver(host)]
            except OSError as exc:
                found = []
                self._failed[host] = f"cannot connect ({host}: {exc.strerror or 'name not found'})"
            if not found:
                self._failed.setdefault(host, f"cannot connect ({host}: name not found)")
                raise FetchError(self._failed[host])
            self._resolved[host] = found
        return self._resolved[host]


def _found(host: str, address: Address, kind: str) -> str:
    """'intranet.example resolves to 10.0.0.5, a private address', '10.0.0.5 is a private
    address', or for an odd spelling '2130706433 is 127.0.0.1, a loopback address'."""
    if literal_address(host) is None:
        return f"{host} resolves to {address}, {kind}"
    if address.version == 4 and str(address) != host:
        return f"{host} is {address}, {kind}"
    return f"{host} is {kind}"


def _host(url: str) -> str:
    """The host as httpx will connect to it: lower case, international names in ASCII."""
    return httpx.URL(url).raw_host.decode("ascii")
