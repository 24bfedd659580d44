"""Check the links of an issue before it goes out: does each one still answer, or has it moved?

Each link gets a HEAD request; when HEAD's answer is an error it is asked again with a GET whose
body is never read, because many servers mishandle HEAD. Redirects are followed by hand, as
digest fetch does, and the requests are polite: a global and a per-host cap and the project's
User-Agent. Healthy results are kept in `link_checks` and reused for links.cache_hours; broken and
rate-limited ones are asked again on every run, so a server that was down for a minute in the
morning does not stop the afternoon's send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx

from digest.config import Config
from digest.errors import DigestError
from digest.fetch import PERMANENT, REDIRECTS, make_client
from digest.models import Issue
from digest.store import Store

OUTCOMES = ("ok", "redirected", "client-error", "server-error", "timeout", "error")
BROKEN = frozenset({"client-error", "server-error", "timeout", "error"})
# "Slow down" answers say nothing about the page: reported as ok but not verified, and not
# reused from the cache. 999 is what LinkedIn answers robots.
RATE_LIMITED = frozenset({429, 999})
WEB = ("http", "https")
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
STATUS_HINTS = {
    401: "needs a login: readers may not get in either",
    403: "refused: some sites refuse robots only; try it in a browser",
    410: "gone for good",
}


@dataclass(frozen=True)
class LinkResult:
    """The last check of one link."""

    url: str
    outcome: str  # one of OUTCOMES
    status: int | None  # the last HTTP status, if any answer came
    final_url: str | None  # where redirects ended, when they did
    detail: str | None  # what went wrong or what to do, one line
    checked_at: datetime
    cached: bool = False  # taken from link_checks, no request made

    @property
    def broken(self) -> bool:
        return self.outcome in BROKEN

    @property
    def rate_limited(self) -> bool:
        return self.status in RATE_LIMITED

    @property
    def reusable(self) -> bool:
        """Worth reusing from the cache: a healthy answer, which stays true for a while."""
        return not self.broken and not self.rate_limited

    def as_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "checked_at": self.checked_at.isoformat(),
            "broken": self.broken,
        }


class BrokenLinksError(DigestError):
    """Too large a share of the issue's links is broken to send it."""

    hint = "run `digest links` to see them; fix or drop them (overrides), or send with --force"


def issue_links(issue: Issue) -> list[str]:
    """The http(s) links an issue's email carries, once each: the weeknote, then every item's
    (shown, or over a theme's cap)."""
    urls = [issue.weeknote_url or "", *(item.url for item in issue.items())]
    return [url for url in dict.fromkeys(urls) if urlsplit(url).scheme in WEB]


def check_links(
    urls: Iterable[str],
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    use_cache: bool = True,
) -> list[LinkResult]:
    """One result per URL, in input order. Healthy results of the last links.cache_hours come
    from the cache (unless `use_cache` is off); the rest are checked concurrently and stored,
    all in one transaction."""
    urls = list(urls)
    unique = list(dict.fromkeys(urls))
    known = {}
    if use_cache:
        cached = cached_results(unique, config, store, now)
        known = {url: result for url, result in cached.items() if result.reusable}
    todo = [url for url in unique if url not in known]
    if todo:
        fresh = asyncio.run(_check_all(todo, config, now, client))
        _save(store, fresh, now, config.links.cache_hours)
        known.update((result.url, result) for result in fresh)
    return [known[url] for url in urls]


def cached_results(
    urls: Iterable[str], config: Config, store: Store, now: datetime
) -> dict[str, LinkResult]:
    """What link_checks knows of these URLs from the last links.cache_hours, broken or not:
    enough to point at broken links without asking the network."""
    since = _stamp(now - timedelta(hours=config.links.cache_hours))
    rows = store.db.execute(
        "SELECT * FROM link_checks WHERE checked_at > ?"
        " AND url IN (SELECT value FROM json_each(?))",
        (since, json.dumps(list(urls))),
    )
    return {row["url"]: _from_row(row) for row in rows}


def broken_share(results: Iterable[LinkResult]) -> float:
    """The share of links that are broken, from 0 (none, or no links) to 1."""
    results = list(results)
    return sum(r.broken for r in results) / len(results) if results else 0.0


def too_many_broken(results: list[LinkResult], config: Config) -> bool:
    return broken_share(results) > config.links.max_broken_share


def refuse_broken(results: list[LinkResult], config: Config) -> None:
    """Raise BrokenLinksError when a larger share than links.max_broken_share is broken."""
    if too_many_broken(results, config):
        broken = sum(r.broken for r in results)
        raise BrokenLinksError(
            f"{broken} of {len(results)} links are broken ({broken_share(results):.0%}; "
            f"links.max_broken_share is {config.links.max_broken_share:.0%})"
        )


def summarise(results: list[LinkResult]) -> dict:
    """Counts for a summary line or JSON: by outcome, broken, rate limited, from the cache."""
    outcomes = Counter(result.outcome for result in results)
    return {
        "links": len(results),
        **{outcome: outcomes[outcome] for outcome in OUTCOMES},
        "broken": sum(r.broken for r in results),
        "rate_limited": sum(r.rate_limited for r in results),
        "cached": sum(r.cached for r in results),
        "broken_share": round(broken_share(results), 4),
    }


def summary_line(results: list[LinkResult]) -> str:
    """'12 links: 9 ok, 2 redirected (…), 1 broken', with what the reader should know after."""
    counts = summarise(results)
    line = f"{counts['links']} links: {counts['ok']} ok, {counts['redirected']} redirected"
    if counts["redirected"]:
        line += " (where moved permanently, use the final URL)"
    line += f", {counts['broken']} broken"
    if counts["rate_limited"]:
        line += f"; {counts['rate_limited']} rate limited, so not verified"
    if counts["cached"]:
        line += f"; {counts['cached']} healthy from the cache (--no-cache checks them again)"
    return line


# Checking


class _Failed(Exception):
    """A check that ends without a usable answer (a redirect loop, too many redirects)."""

    def __init__(self, detail: str, status: int, url: str):
        super().__init__(detail)
        self.detail, self.status, self.url = detail, status, url


class _Budget:
    """The seconds left for one link. Only time spent on its own requests counts, not the wait
    for a free slot, so a link queued behind a slow host is not timed out before it is tried."""

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


class _Checker:
    def __init__(self, client: httpx.AsyncClient, config: Config):
        self.client = client
        self.settings = config.links
        self.max_redirects = config.fetch.max_redirects
        self.headers = {"User-Agent": config.user_agent(), "Accept": ACCEPT}
        # httpx's own timeout only backs up the budget, which is what really limits a link.
        self._timeout = httpx.Timeout(self.settings.timeout)
        self._all = asyncio.Semaphore(self.settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.settings.per_host)
        )

    async def check(self, url: str, now: datetime) -> LinkResult:
        if urlsplit(url).scheme not in WEB:
            return LinkResult(url, "error", None, None, "not an http(s) link", now)
        try:
            return await self._follow(url, now, _Budget(self.settings.timeout))
        except _Failed as failed:
            return LinkResult(url, "error", failed.status, failed.url, failed.detail, now)
        except (TimeoutError, httpx.TimeoutException):
            detail = f"no answer within {self.settings.timeout:g} s (links.timeout)"
            return LinkResult(url, "timeout", None, None, detail, now)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return LinkResult(url, "error", None, None, _describe(exc), now)

    async def _follow(self, url: str, now: datetime, budget: _Budget) -> LinkResult:
        seen, current, method, first_hop = {url}, url, "HEAD", None
        while True:
            status, reason, location = await self._ask(method, current, budget)
            if status in REDIRECTS and location:
                target = urljoin(current, location.strip())
                if target in seen:
                    raise _Failed(f"redirect loop ({status} back to {target})", status, current)
                if len(seen) > self.max_redirects:
                    limit = f"more than {self.max_redirects} redirects (fetch.max_redirects)"
                    raise _Failed(limit, status, current)
                seen.add(target)
                current, first_hop = target, first_hop or status
            elif method == "HEAD" and status >= 400 and status not in RATE_LIMITED:
                method = "GET"  # HEAD refused or mishandled: GET is what a reader's browser sends
            else:
                return _result(url, current, status, reason, first_hop, now)

    async def _ask(self, method: str, url: str, budget: _Budget) -> tuple[int, str, str | None]:
        host = urlsplit(url).netloc.lower()
        async with self._hosts[host], self._all, budget.spend():
            request = self.client.build_request(
                method, url, headers=self.headers, timeout=self._timeout
            )
            response = await self.client.send(request, stream=True)
            # The body is never needed: closing it unread drops it (and a GET's connection).
            await response.aclose()
        return response.status_code, response.reason_phrase, response.headers.get("location")


def _result(
    url: str, final: str, status: int, reason: str, first_hop: int | None, now: datetime
) -> LinkResult:
    """The result of the last answer of a check; `first_hop` is the first redirect's status."""
    final_url = final if first_hop else None
    said = f"HTTP {status} {reason}".rstrip()
    if status in RATE_LIMITED:
        detail = f"{said}: rate limited, so not verified; checked again next run"
        return LinkResult(url, "ok", status, final_url, detail, now)
    if status >= 400:
        outcome = "server-error" if status >= 500 else "client-error"
        hint = STATUS_HINTS.get(status)
        return LinkResult(url, outcome, status, final_url, f"{said}: {hint}" if hint else said, now)
    if status in REDIRECTS:
        return LinkResult(url, "error", status, final_url, f"{said} without a Location", now)
    if first_hop is None:
        return LinkResult(url, "ok", status, None, None, now)
    # Only the first hop says whether this URL moved; later hops are the new site's business.
    if first_hop in PERMANENT:
        detail = f"moved permanently ({first_hop}): use the final URL"
    else:
        detail = f"temporary redirect ({first_hop}): keep this URL"
    return LinkResult(url, "redirected", status, final_url, detail, now)


async def _check_all(
    urls: list[str], config: Config, now: datetime, client: httpx.AsyncClient | None
) -> list[LinkResult]:
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            # fetch's client, pooled to the link checker's own concurrency.
            settings = dataclasses.replace(config.fetch, concurrency=config.links.concurrency)
            client = await stack.enter_async_context(make_client(settings))
        checker = _Checker(client, config)
        return list(await asyncio.gather(*(checker.check(url, now) for url in urls)))


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    reason = text.splitlines()[0] if text else ""
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({reason or 'refused'})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"connection broken ({reason or 'reset by peer'})"
    return f"{type(exc).__name__}: {reason}"


# The cache


def _save(store: Store, results: list[LinkResult], now: datetime, hours: float) -> None:
    """Store fresh results and forget those too old to be reused, in one transaction."""
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO link_checks (url, outcome, status, final_url, detail, checked_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
            " outcome = excluded.outcome, status = excluded.status,"
            " final_url = excluded.final_url, detail = excluded.detail,"
            " checked_at = excluded.checked_at",
            list(_rows(results)),
        )
        cutoff = _stamp(now - timedelta(hours=hours))
        db.execute("DELETE FROM link_checks WHERE checked_at <= ?", (cutoff,))


def _rows(results: list[LinkResult]) -> Iterator[tuple]:
    for r in results:
        yield r.url, r.outcome, r.status, r.final_url, r.detail, _stamp(r.checked_at)


def _from_row(row) -> LinkResult:
    return LinkResult(
        row["url"],
        row["outcome"],
        row["status"],
        row["final_url"],
        row["detail"],
        datetime.fromisoformat(row["checked_at"]),
        cached=True,
    )


def _stamp(moment: datetime) -> str:
    """As store.py stores moments: UTC, whole seconds, so they compare as text."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()
