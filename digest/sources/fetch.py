"""Polite, bounded HTTP fetching of sources (httpx, asyncio).

Limits: a global and a per-host concurrency cap (higher for conditional requests, which
mostly answer 304 with no body, until a host sends one), connect/read timeouts per request, a total
timeout per source counted from its first request (not while it waits for a slot), a deadline for
the whole run after which sources still waiting are "not reached", a body-size cap counted after
decompression, a piece at a time (digest.sources.inflate, so a gzip bomb stops too and costs no
memory), a redirect limit, and a length limit on where a redirect leads. Etiquette: conditional
GET with the stored validators, permanent redirects reported so the caller can remember them, 410
reported as gone, Retry-After honoured once when it is short. Redirects and URLs found in other
sources pass the address guard (digest.sources.guard) before they are requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from digest.core.errors import FetchError
from digest.core.settings import FetchSettings
from digest.core.urls import MAX_URL_LENGTH, absolute_url
from digest.sources.guard import AddressGuard, Resolver, system_resolver
from digest.sources.hostpool import HostPools
from digest.sources.inflate import ACCEPT_ENCODING, decoded_pieces

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, text/html;q=0.5, */*;q=0.1"
)
REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
DISCARD_LIMIT = 65_536  # bytes of a non-200 body read (and dropped) to keep the connection
STATUS_HINTS = {
    401: "the server wants a login: check the URL or ask the publisher for a public feed",
    403: "the server refuses digest: check the URL or ask the publisher",
    404: "no feed at this URL: check it in feeds.yaml",
    429: "the server is rate limiting digest: it will be tried again on the next run",
}


@dataclass(frozen=True)
class Fetched:
    """What one source answered, after redirects and at most one Retry-After."""

    url: str  # where the body finally came from
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False
    gone: bool = False
    moved_to: str | None = None  # the new address after only permanent redirects
    truncated: bool = False  # the body is the first max_bytes of a longer one

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


class Slots:
    """The caps on requests at once: `concurrency` in all and `per_host` to one host. Made
    when a run starts with its `run_timeout`: once that has passed, a request still waiting
    fails as "not reached"; with none it waits as long as it takes."""

    def __init__(self, concurrency: int, per_host: int, run_timeout: float | None = None):
        self.run_timeout = run_timeout
        self.deadline = None  # event loop time
        if run_timeout is not None:
            self.deadline = asyncio.get_running_loop().time() + run_timeout
        self._all = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))

    @contextlib.asynccontextmanager
    async def hold(self, url: str):
        host = host_key(url)
        async with self._take(self._hosts[host], host), self._take(self._all, None):
            yield

    @contextlib.asynccontextmanager
    async def _take(self, semaphore: asyncio.Semaphore, host: str | None):
        if semaphore.locked():
            try:
                async with asyncio.timeout_at(self.deadline):
                    await semaphore.acquire()
            except TimeoutError:
                raise FetchError(not_reached(host, self.run_timeout)) from None
        else:  # a free slot is taken at once: no wait to time (a timer costs a run of 400 ~20 ms)
            await semaphore.acquire()
        try:
            yield
        finally:
            semaphore.release()


class RequestSlots:
    """The slots a request takes: one of fetch.per_host to its host, or, when it is conditional
    (it carries a stored ETag or Last-Modified), one of fetch.revalidate_per_host, for as long as
    no conditional request to that host has been answered with a body in this run. Such a host
    has feeds that changed, so its remaining requests will download them: per_host at a time."""

    def __init__(self, settings: FetchSettings):
        run_timeout = settings.run_timeout
        self.full = Slots(settings.concurrency, settings.per_host, run_timeout)
        self.conditional = Slots(
            settings.revalidate_concurrency, settings.revalidate_per_host, run_timeout
        )
        self.sent_bodies: set[str] = set()  # hosts that answered a conditional request with 200

    @contextlib.asynccontextmanager
    async def hold(self, url: str, conditional: bool):
        host = host_key(url)
        if conditional and host not in self.sent_bodies:
            async with self.conditional.hold(url):
                # Looked at again once the slot is had: a body may have come meanwhile.
                if host not in self.sent_bodies:
                    yield
                    return
        async with self.full.hold(url):
            yield

    def body_sent(self, url: str) -> None:
        """`url`'s host answered a conditional request with a body."""
        self.sent_bodies.add(host_key(url))


def host_key(url: str) -> str:
    """What the per-host caps count by: the host and port of `url`."""
    return urlsplit(url).netloc.lower()


class Budget:
    """The seconds left for one source or link. Only time spent on its own requests counts, not
    the wait for a slot, so one queued behind a slow host is not timed out before it is tried."""

    def __init__(self, seconds: float):
        self.left = seconds

    @contextlib.asynccontextmanager
    async def spend(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            async with asyncio.timeout(max(self.left, 0.0)):
                yield
        finally:
            self.left -= loop.time() - start


def next_hop(current: str, location: str, status: int, seen: set[str], limit: int) -> str:
    """Where a redirect from `current` leads, added to `seen` (the URLs asked so far); a
    FetchError for a loop, a redirect beyond `limit` (fetch.max_redirects), one that leaves the
    web (javascript:, file:), or one to a URL longer than any link digest keeps: where it ends
    can become an item's link, and one such link alone can push an email past Gmail's
    clipping size."""
    target = absolute_url(current, location)
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"a {status} redirect to a {scheme or 'schemeless'} URL, not a web page")
    if len(target) > MAX_URL_LENGTH:
        raise FetchError(
            f"a {status} redirect to a URL of {len(target):,} characters "
            f"(more than {MAX_URL_LENGTH:,})"
        )
    if target in seen:
        raise FetchError(f"redirect loop ({status} back to {target})")
    if len(seen) > limit:
        raise FetchError(f"more than {limit} redirects (fetch.max_redirects)")
    seen.add(target)
    return target


class Fetcher:
    """Fetches sources for one run, so make it when the run starts: no request still waiting
    for a slot fetch.run_timeout later starts any more. `resolver` serves the address guard."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: FetchSettings,
        user_agent: str,
        sleep=asyncio.sleep,
        resolver: Resolver = system_resolver,
    ):
        self.client = client
        self.settings = settings
        self.user_agent = user_agent
        self.sleep = sleep
        self.guard = AddressGuard(resolver)
        self.slots = RequestSlots(settings)
        # No pool timeout: the slots do the queueing, and make_client's pools hold as many
        # connections as there are slots. A pool timeout would again time a request from
        # before it starts; a wait in a smaller pool passed in counts against its budget.
        self._timeout = httpx.Timeout(
            settings.read_timeout, connect=settings.connect_timeout, pool=None
        )

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        truncate: bool = False,
        configured: str | None = None,
    ) -> Fetched:
        """Fetch one source; raise FetchError with a one-line reason when it cannot be had.
        A body over fetch.max_bytes is an error, or with `truncate` (a web page, which is still
        useful in part) cut at the cap. `configured` is the URL the operator configured, when
        `url` is not it (a remembered redirect, a weeknote post found in the blog feed): the
        address guard lets `url` and redirects reach non-public addresses only if it is on one."""
        if urlsplit(url).scheme == "file":
            return self._read_file(url, truncate)
        headers = {"User-Agent": self.user_agent, "Accept": ACCEPT}
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._follow(url, headers, truncate, configured or url)
        except TimeoutError:
            total = self.settings.total_timeout
            raise FetchError(
                f"no complete answer within {total:g} s (fetch.total_timeout)"
            ) from None
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out ({_describe_timeout(exc)})") from None
        except httpx.ConnectError as exc:
            raise FetchError(f"cannot connect ({_first_line(exc) or 'refused'})") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise FetchError(f"connection broken ({_first_line(exc) or 'reset by peer'})") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a usable URL ({_first_line(exc)})") from None
        except httpx.DecodingError as exc:
            raise FetchError(_first_line(exc)) from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {_first_line(exc)}") from None

    async def _follow(
        self, url: str, headers: dict[str, str], truncate: bool, configured: str
    ) -> Fetched:
        budget = Budget(self.settings.total_timeout)
        seen, moved_to, retried = {url}, None, False
        permanent_so_far = True
        while True:
            answer = await self._get(url, headers, truncate, budget, configured)
            location = answer.headers.get("location")
            if answer.status in REDIRECTS and location:
                target = next_hop(url, location, answer.status, seen, self.settings.max_redirects)
                permanent_so_far = permanent_so_far and answer.status in PERMANENT
                moved_to = target if permanent_so_far else moved_to
                url = target
                continue
            if answer.status in (429, 503) and not retried:
                delay = _retry_after(answer.headers)
                if delay is not None and delay <= self.settings.retry_after_max:
                    retried = True
                    await self.sleep(delay)
                    continue
            return self._outcome(url, answer, moved_to)

    def _outcome(self, url: str, answer: _Answer, moved_to: str | None) -> Fetched:
        status = answer.status
        if status == 304:
            return Fetched(url, headers=answer.headers, not_modified=True, moved_to=moved_to)
        if status == 410:
            return Fetched(url, headers=answer.headers, gone=True, moved_to=moved_to)
        if status == 200:
            truncated = len(answer.body) > self.settings.max_bytes
            body = answer.body[: self.settings.max_bytes]
            return Fetched(url, body, answer.headers, moved_to=moved_to, truncated=truncated)
        if status in REDIRECTS:
            raise FetchError(f"HTTP {status} redirect without a Location header")
        hint = STATUS_HINTS.get(status) or (
            "server error: it will be tried again on the next run"
            if status >= 500
            else "unexpected answer for a feed"
        )
        raise FetchError(f"HTTP {status} {answer.reason}".rstrip() + f": {hint}")

    async def _get(
        self, url: str, headers: dict[str, str], truncate: bool, budget: Budget, configured: str
    ) -> _Answer:
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        async with self.slots.hold(url, conditional), budget.spend():
            await self.guard.check(url, configured)
            request = self.client.build_request("GET", url, headers=headers, timeout=self._timeout)
            response = await self.client.send(request, stream=True)
            try:
                body = b""
                if response.status_code == 200:
                    if conditional:
                        self.slots.body_sent(url)
                    body = await self._read_body(response, self.settings.max_bytes, truncate)
                else:
                    # Reading a short answer to its end lets the connection be kept alive.
                    with contextlib.suppress(FetchError, httpx.TransportError, httpx.DecodingError):
                        await self._read_body(response, DISCARD_LIMIT)
            finally:
                await response.aclose()
        lowered = {k.lower(): v for k, v in response.headers.items()}
        return _Answer(response.status_code, response.reason_phrase, lowered, body)

    @staticmethod
    async def _read_body(response: httpx.Response, cap: int, truncate: bool = False) -> bytes:
        """The body, up to `cap` bytes; beyond it an error, or with `truncate` one byte more
        (which tells the caller there was more)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap and not truncate:
            raise FetchError(_too_big(cap, f"it declares {int(declared):,} bytes"))
        chunks, size = [], 0
        async for chunk in decoded_pieces(response):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                if truncate:
                    break
                raise FetchError(_too_big(cap, "stopped reading"))
        return b"".join(chunks)[: cap + 1]

    def _read_file(self, url: str, truncate: bool) -> Fetched:
        path = Path(url2pathname(urlsplit(url).path))
        try:
            with path.open("rb") as handle:
                body = handle.read(self.settings.max_bytes + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {path} ({exc.strerror})") from None
        truncated = len(body) > self.settings.max_bytes
        if truncated and not truncate:
            raise FetchError(_too_big(self.settings.max_bytes, "stopped reading"))
        return Fetched(url, body[: self.settings.max_bytes], truncated=truncated)


def make_client(settings: FetchSettings) -> httpx.AsyncClient:
    """The client digest uses when none is passed in: a connection pool per host, as large as
    the requests a host may have at once (conditional and not)."""
    pool = HostPools(settings.per_host + settings.revalidate_per_host)
    return httpx.AsyncClient(transport=pool, follow_redirects=False)


def _retry_after(headers: dict[str, str]) -> float | None:
    """Seconds to wait from Retry-After (seconds, or an HTTP date measured against Date)."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        sent = email.utils.parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (when - sent).total_seconds())


def not_reached(host: str | None, run_timeout: float) -> str:
    """Why a source was not fetched: `host` (None: every connection in all) stayed busy."""
    busy = f"its host {host} was" if host else "every connection (fetch.concurrency) was"
    return (
        f"not reached: {busy} busy with other sources until fetch.run_timeout "
        f"({run_timeout:g} s) ran out"
    )


# How a failed connection reads in a report (this module, digest.sources.guard and .links):
# these are what a machine with no network gets from every source, at once.
NO_CONNECTION = ("cannot connect", "timed out (connecting")


def no_network(failures: list[str | None], what: str, instead: str = "") -> str | None:
    """One line for the case where every one of `failures` (the errors of two or more sources
    or links on the web, None for one that worked) is a failed connection, as when the machine
    has no network; None otherwise. `what` names them: "sources on the web", "links";
    `instead` is what the command can do without the network, if anything."""
    if len(failures) < 2 or not all(
        error and any(sign in error for sign in NO_CONNECTION) for error in failures
    ):
        return None
    also = f", or {instead}" if instead else ""
    return (
        f"no network? none of the {len(failures)} {what} could be reached (first: "
        f"{failures[0]}); check this machine's connection{also}"
    )


def _too_big(cap: int, detail: str) -> str:
    return f"body larger than {cap:,} bytes (fetch.max_bytes); {detail}"


def _describe_timeout(exc: httpx.TimeoutException) -> str:
    kind = {
        httpx.ConnectTimeout: "connecting; fetch.connect_timeout",
        httpx.ReadTimeout: "waiting for data; fetch.read_timeout",
    }
    return kind.get(type(exc), "fetch timeouts")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
