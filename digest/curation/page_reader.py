"""Reading linked pages' heads from the network, within bounds: what one build may spend on them.

Each page is asked for as digest fetch asks (the global and per-host caps, the User-Agent,
redirects followed by hand and capped in length, the address guard as digest links uses it) and
read to the end of its head, at most HEAD_CAP bytes after decompression, a piece at a time. The
build as a whole is bounded too:

- `enrich.deadline`: when it runs out, pages still being read or waiting are left unread;
- `enrich.max_per_host`: more links than that to one host wait for later builds, so a weeknote
  of 5,000 links to one site costs that site (and the build) a handful of requests;
- the network taken as down after failed connections to NETWORK_DOWN_AFTER hosts in a row (no
  page answering in between): the rest is left unread, and the build says so in one line.

A page's image counts only when it is https, of a plausible declared size and on a host whose
every address is public (with `enrich.images`): a reader's mail app fetches it, and a pixel on
an intranet address or a tracker's 1x1 has no place there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx

from digest.core.errors import FetchError
from digest.core.settings import Config
from digest.core.text import fold, plural
from digest.core.urls import host_of
from digest.curation.heads import HEAD_CAP, PageHead, parse_head, plausible_image
from digest.sources.fetch import REDIRECTS, Budget, Slots, make_client, next_hop, no_network
from digest.sources.guard import AddressGuard, Resolver
from digest.sources.inflate import ACCEPT_ENCODING, decoded_pieces
from digest.sources.links import IssueLink, configured_url

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
NETWORK_DOWN_AFTER = 5  # hosts in a row that could not be connected to: no network, not them
_HEAD_END = (b"</head", b"<body")
_NO_CONNECTION = "cannot connect"  # how every failed connection's error starts


@dataclass(frozen=True)
class Reading:
    """What one bounded run read: fresh heads (errors included) to keep, the answers to record
    as link checks, and the links left unread with one line each on why."""

    heads: dict[str, PageHead]
    keep: list[PageHead]  # those worth caching: not the failures of a network that was down
    answers: list[tuple]
    unread: dict[str, PageHead]  # not read this build, with the reason as their error
    notes: tuple[str, ...]


async def read_heads(
    links: list[IssueLink],
    config: Config,
    now: datetime,
    client: httpx.AsyncClient | None,
    resolver: Resolver,
) -> Reading:
    """Read the heads of `links` (most important first) within the build's bounds."""
    limit = config.enrich.max_per_host
    chosen, over = _share_hosts(links, limit)
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        reader = _HeadReader(client, config, resolver)
        tasks = {link.url: asyncio.create_task(reader.read(link, now)) for link in chosen}
        late: set = set()
        if tasks:
            _, late = await asyncio.wait(tasks.values(), timeout=config.enrich.deadline)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    read = {url: task.result() for url, task in tasks.items() if task not in late}
    heads = {url: head for url, (head, _) in read.items() if head is not None}
    down = reader.down or no_network([h.error for h in heads.values()], "linked pages")
    why = {link.url: f"more than {limit} links to its host (enrich.max_per_host)" for link in over}
    why |= {url: "the network seemed to be down" for url in read.keys() - heads.keys()}
    deadline = f"enrich.deadline ({config.enrich.deadline:g} s) ran out"
    why |= {url: deadline for url, task in tasks.items() if task in late}
    return Reading(
        heads,
        # a failed connection says nothing of the page when the network was down: ask again
        [head for head in heads.values() if not (down and _failed_to_connect(head))],
        [answer for _, answer in read.values() if answer],
        {url: PageHead(url, error=f"not read this build: {reason}") for url, reason in why.items()},
        _notes(reader, down, len(late), len(over), config),
    )


def _share_hosts(links: Iterable[IssueLink], limit: int) -> tuple[list, list]:
    """(links to read, links over their host's share): the first `limit` links to each host."""
    seen: dict[str, int] = {}
    chosen, over = [], []
    for link in links:
        host = host_of(link.url)
        seen[host] = seen.get(host, 0) + 1
        (chosen if seen[host] <= limit else over).append(link)
    return chosen, over


def _notes(reader, down, late: int, over: int, config: Config) -> tuple[str, ...]:
    """One line per bound that left links unread, for the build's warnings; `down` is the
    network's verdict: True when the run stopped for it, else no_network's line or None."""
    notes = []
    if reader.down:
        notes.append(
            f"no network? {NETWORK_DOWN_AFTER} hosts in a row could not be reached (first: "
            f"{reader.first_failure}); {plural(reader.skipped, 'more linked page')} left "
            "unread: the next build reads them, or build with --offline"
        )
    elif down:
        notes.append(down)
    if late:
        notes.append(
            f"{plural(late, 'linked page')} left unread: enrich.deadline "
            f"({config.enrich.deadline:g} s) ran out; the next build reads them"
        )
    if over:
        notes.append(
            f"{plural(over, 'linked page')} left unread: more than "
            f"{config.enrich.max_per_host} links to one host (enrich.max_per_host); later builds "
            "read them"
        )
    return tuple(notes)


def _failed_to_connect(head: PageHead) -> bool:
    return (head.error or "").startswith(_NO_CONNECTION)


class _HeadReader:
    def __init__(self, client: httpx.AsyncClient, config: Config, resolver: Resolver):
        self.client = client
        self.config = config
        self.headers = {
            "User-Agent": config.user_agent(),
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        settings = config.fetch
        self.timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        self.slots = Slots(config.fetch.concurrency, config.fetch.per_host)
        self.guard = AddressGuard(resolver)
        # The run of failed connections so far, by host; any page that answers ends it.
        self.failing: set[str] = set()
        self.first_failure: str | None = None
        self.down = False
        self.skipped = 0  # links not even tried once the network was taken as down

    async def read(self, link: IssueLink, now: datetime) -> tuple[PageHead | None, tuple | None]:
        """The page's head (None: not read, the network being down) and, when it answered,
        the answer as digest links records it: (url, final url, status, reason, first
        redirect's status)."""
        if self.down:
            self.skipped += 1
            return None, None
        configured = configured_url(link, self.config)
        seconds = self.config.enrich.timeout
        try:
            head, answer = await self._follow(link.url, configured, Budget(seconds))
        except FetchError as refused:  # the address guard, or a host that does not resolve
            error = refused.message
        except httpx.ConnectTimeout:
            error = f"{_NO_CONNECTION} (no connection within {self.timeout.connect:g} s)"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {seconds:g} s (enrich.timeout)"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: a bad Location
            error = _describe(exc)
        else:
            self.failing.clear()
            head = await self._with_safe_image(head)
            return dataclasses.replace(head, fetched_at=now), answer
        self._failed(link.url, error)
        return PageHead(link.url, error=error, fetched_at=now), None

    def _failed(self, url: str, error: str) -> None:
        if not error.startswith(_NO_CONNECTION):
            self.failing.clear()  # the network answered: this page is the problem
            return
        if not self.failing:
            self.first_failure = error
        self.failing.add(host_of(url))
        self.down = self.down or len(self.failing) >= NETWORK_DOWN_AFTER

    async def _follow(self, url: str, configured: str | None, budget: Budget):
        seen, current, first_hop = {url}, url, None
        while True:
            async with self.slots.hold(current), budget.spend():
                await self.guard.check(current, configured)
                request = self.client.build_request(
                    "GET", current, headers=self.headers, timeout=self.timeout
                )
                response = await self.client.send(request, stream=True)
                try:
                    body = await _head_bytes(response) if response.status_code == 200 else b""
                finally:
                    await response.aclose()
            status, location = response.status_code, response.headers.get("location")
            if status in REDIRECTS and location:
                limit = self.config.fetch.max_redirects
                first_hop = first_hop or status
                current = next_hop(current, location, status, seen, limit)
                continue
            answer = (url, current, status, response.reason_phrase, first_hop)
            return _head_of(url, current, status, response, body), answer

    async def _with_safe_image(self, head: PageHead) -> PageHead:
        """`head` without its image unless images are wanted and this one is https, of a
        plausible size and on public addresses only (whatever the page's own address)."""
        if head.image is None:
            return head
        if self.config.enrich.images and safe_image(head):
            try:
                await self.guard.check(head.image, None)
                return head
            except FetchError:
                pass
        return without_image(head)


def safe_image(head: PageHead) -> bool:
    """What can be known of an image without the network: https, and a plausible size."""
    https = (head.image or "").lower().startswith("https://")
    return https and plausible_image(head.image_width, head.image_height)


def without_image(head: PageHead) -> PageHead:
    return dataclasses.replace(
        head, image=None, image_width=None, image_height=None, image_alt=None
    )


def _head_of(url: str, final: str, status: int, response: httpx.Response, body: bytes):
    content_type = response.headers.get("content-type")
    if status != 200:
        return PageHead(url, final, error=fold(f"HTTP {status} {response.reason_phrase}"))
    kind = (content_type or "text/html").split(";")[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml"):
        return PageHead(url, final, error=f"not an HTML page ({fold(kind)[:60]})")
    return dataclasses.replace(parse_head(body, final, content_type), url=url, final_url=final)


async def _head_bytes(response: httpx.Response) -> bytes:
    """The page up to the end of its head, at most HEAD_CAP bytes after decompression."""
    body = bytearray()
    async for piece in decoded_pieces(response):
        start = max(0, len(body) - 8)  # a marker may straddle two pieces
        body += piece
        tail = bytes(body[start:]).lower()
        if len(body) >= HEAD_CAP or any(marker in tail for marker in _HEAD_END):
            break
    return bytes(body[:HEAD_CAP])


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    reason = fold(text.splitlines()[0]) if text else ""
    if isinstance(exc, httpx.ConnectError):
        return f"{_NO_CONNECTION} ({reason or 'refused'})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"connection broken ({reason or 'reset by peer'})"
    return f"{type(exc).__name__}: {reason}"
