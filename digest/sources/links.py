"""Check the links of an issue before it goes out: does each one still answer, or has it moved?

Each link gets a HEAD request; when HEAD's answer is an error it is asked again with a GET whose
body is never read, because many servers mishandle HEAD. Redirects are followed by hand, as
digest fetch does, and the requests are polite: a global and a per-host cap and the project's
User-Agent. Links come from other people's feeds and pages, so each link and redirect passes the
address guard (digest.sources.guard) first: it may reach a non-public address only when the
source it came from is configured on one. Healthy results are kept in `link_checks` and reused for
links.cache_hours; broken and rate-limited ones are asked again on every run, so a server that
was down for a minute in the morning does not stop the afternoon's send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from digest.core.errors import DigestError, FetchError
from digest.core.models import WEEKNOTE, Issue
from digest.core.settings import Config
from digest.core.store import Store
from digest.core.text import fold
from digest.core.urls import reserved_host
from digest.sources.fetch import (
    PERMANENT,
    REDIRECTS,
    Budget,
    Slots,
    make_client,
    next_hop,
    no_network,
)
from digest.sources.guard import AddressGuard, Resolver, system_resolver

OUTCOMES = ("ok", "redirected", "client-error", "server-error", "timeout", "error", "example")
BROKEN = frozenset({"client-error", "server-error", "timeout", "error"})
# "Slow down" answers say nothing about the page: reported as ok but not verified, and not
# reused from the cache. 999 is what LinkedIn answers robots.
RATE_LIMITED = frozenset({429, 999})
WEB = ("http", "https")
# What a link on a reserved name (partner.example) gets instead of a check: no site answers
# there, and the example's made-up links are not broken ones.
EXAMPLE = "example link, not checked"
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


@dataclass(frozen=True)
class IssueLink:
    """A link of an issue and the source it came from, as its item says (IssueItem.origin and
    .source). The source's configured URL decides whether the link may lead to a non-public
    address; a plain URL given to check_links has no source, so it may not."""

    url: str
    origin: str  # "weeknote" (the weeknote page and its links) or "feed"
    source: str  # the feed's name; the weeknote's for the weeknote


class BrokenLinksError(DigestError):
    """Too large a share of the issue's links is broken to send it."""

    hint = "run `digest links` to see them; fix or drop them (overrides), or send with --force"


def issue_links(issue: Issue) -> list[IssueLink]:
    """The http(s) links an issue's email carries, once each: the weeknote, then every item's
    (shown, or over a theme's cap)."""
    links = [
        IssueLink(issue.weeknote_url or "", "weeknote", WEEKNOTE),
        *(IssueLink(item.url, item.origin, item.source) for item in issue.items()),
    ]
    return [link for url, link in _by_url(links).items() if urlsplit(url).scheme in WEB]


def configured_url(link: IssueLink | str, config: Config) -> str | None:
    """The URL the operator configured for the source a link came from: the weeknote's page or
    blog feed, or the feed of that name. None for a plain URL or a source no longer configured
    (or named twice)."""
    if isinstance(link, str):
        return None
    if link.origin == "weeknote":
        rule = config.weeknote
        return config.locate(rule.url or rule.feed) if rule else None
    urls = {config.locate(feed.url) for feed in config.feeds if feed.name == link.source}
    return urls.pop() if len(urls) == 1 else None


def check_links(
    links: Iterable[IssueLink | str],
    config: Config,
    store: Store,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    use_cache: bool = True,
    resolver: Resolver = system_resolver,
) -> list[LinkResult]:
    """One result per link, in input order; where a link may lead depends on its source (see
    IssueLink). Healthy results of the last links.cache_hours come from the cache (unless
    `use_cache` is off); the rest are checked concurrently and stored, all in one transaction.
    `resolver` serves the address guard."""
    links = list(links)
    unique = _by_url(links)
    known = {url: _example(url, now) for url in unique if reserved_host(url)}
    if use_cache:
        cached = cached_results(list(unique), config, store, now)
        known.update((url, result) for url, result in cached.items() if result.reusable)
    todo = [(url, configured_url(link, config)) for url, link in unique.items() if url not in known]
    if todo:
        fresh = asyncio.run(_check_all(todo, config, now, client, resolver))
        _save(store, fresh, now, config.links.cache_hours)
        known.update((result.url, result) for result in fresh)
    return [known[_url(link)] for link in links]


def cached_results(
    links: Iterable[IssueLink | str], config: Config, store: Store, now: datetime
) -> dict[str, LinkResult]:
    """What link_checks knows of these links from the last links.cache_hours, broken or not:
    enough to point at broken links without asking the network. A link on a reserved name is
    an example link whatever an older digest stored of it."""
    since = _stamp(now - timedelta(hours=config.links.cache_hours))
    urls = [_url(link) for link in links]
    rows = store.db.execute(
        "SELECT * FROM link_checks WHERE checked_at > ?"
        " AND url IN (SELECT value FROM json_each(?))",
        (since, json.dumps(urls)),
    )
    known = {row["url"]: _from_row(row) for row in rows}
    return known | {url: _example(url, now) for url in urls if reserved_host(url)}


def _example(url: str, now: datetime) -> LinkResult:
    return LinkResult(url, "example", None, None, EXAMPLE, now)


def record_answers(
    answers: Iterable[tuple[str, str, int, str, int | None]],
    config: Config,
    store: Store,
    now: datetime,
) -> None:
    """Keep answers another stage got from links of the issue as their checks (enrichment reads
    each linked page with a GET), so `digest links` reuses them instead of asking again. Each
    answer is (url, final url, HTTP status, reason phrase, first redirect's status or None)."""
    results = [_result(*answer, now) for answer in answers]
    if results:
        _save(store, results, now, config.links.cache_hours)


def broken_share(results: Iterable[LinkResult]) -> float:
    """The share of the links checked that are broken, from 0 (none, or no links) to 1; example
    links are not checked, so they count neither way."""
    checked = [r for r in results if r.outcome != "example"]
    return sum(r.broken for r in checked) / len(checked) if checked else 0.0


def too_many_broken(results: list[LinkResult], config: Config) -> bool:
    return broken_share(results) > config.links.max_broken_share


def refuse_broken(results: list[LinkResult], config: Config) -> None:
    """Raise BrokenLinksError when a larger share than links.max_broken_share is broken."""
    if too_many_broken(results, config):
        broken = sum(r.broken for r in results)
        checked = sum(r.outcome != "example" for r in results)
        raise BrokenLinksError(
            f"{broken} of {checked} links are broken ({broken_share(results):.0%}; "
            f"links.max_broken_share is {config.links.max_broken_share:.0%})"
        )


def send_verdict(results: list[LinkResult], config: Config) -> str:
    """What digest send would make of these results, as its own check decides: refuse, go
    ahead, or not look at the links at all (links.before_send: false)."""
    if not config.links.before_send:
        return "digest send does not check links (links.before_send: false)"
    share = f"{broken_share(results):.0%} of the links are broken"
    limit = f"links.max_broken_share ({config.links.max_broken_share:.0%})"
    if too_many_broken(results, config):
        return f"digest send would refuse this issue: {share}, more than {limit}; --force sends"
    return f"digest send would go ahead: {share}, within {limit}"


def no_connection(results: list[LinkResult]) -> str | None:
    """One 'no network?' line when every link checked failed to connect, instead of one
    identical error per link; None otherwise."""
    return no_network([result.detail if result.broken else None for result in results], "links")


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
    if counts["example"]:
        line += f"; {counts['example']} on example names (.example, .test, .invalid), not checked"
    if counts["rate_limited"]:
        line += f"; {counts['rate_limited']} rate limited, so not verified"
    if counts["cached"]:
        line += f"; {counts['cached']} healthy from the cache (--no-cache checks them again)"
    return line


def _url(link: IssueLink | str) -> str:
    return link if isinstance(link, str) else link.url


def _by_url(links: Iterable[IssueLink | str]) -> dict[str, IssueLink | str]:
    """Each URL once, in order, with the first link that has it."""
    unique: dict[str, IssueLink | str] = {}
    for link in links:
        unique.setdefault(_url(link), link)
    return unique


# Checking


class _Failed(Exception):
    """A check that ends without a usable answer (a redirect loop, too many redirects)."""

    def __init__(self, detail: str, status: int, url: str):
        super().__init__(detail)
        self.detail, self.status, self.url = detail, status, url


class _Checker:
    def __init__(self, client: httpx.AsyncClient, config: Config, resolver: Resolver):
        self.client = client
        self.settings = config.links
        self.max_redirects = config.fetch.max_redirects
        self.headers = {"User-Agent": config.user_agent(), "Accept": ACCEPT}
        # httpx's own timeout only backs up the budget, which is what really limits a link.
        self._timeout = httpx.Timeout(self.settings.timeout)
        self.slots = Slots(self.settings.concurrency, self.settings.per_host)
        self.guard = AddressGuard(resolver)

    async def check(self, url: str, configured: str | None, now: datetime) -> LinkResult:
        """Check one link; `configured` is the configured URL of the source it came from."""
        if urlsplit(url).scheme not in WEB:
            return LinkResult(url, "error", None, None, "not an http(s) link", now)
        try:
            return await self._follow(url, configured, now, Budget(self.settings.timeout))
        except _Failed as failed:
            return LinkResult(url, "error", failed.status, failed.url, failed.detail, now)
        except FetchError as refused:  # by the address guard, or its host name is unknown
            return LinkResult(url, "error", None, None, refused.message, now)
        except (TimeoutError, httpx.TimeoutException):
            detail = f"no answer within {self.settings.timeout:g} s (links.timeout)"
            return LinkResult(url, "timeout", None, None, detail, now)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return LinkResult(url, "error", None, None, _describe(exc), now)

    async def _follow(
        self, url: str, configured: str | None, now: datetime, budget: Budget
    ) -> LinkResult:
        seen, current, method, first_hop = {url}, url, "HEAD", None
        while True:
            status, reason, location = await self._ask(method, current, configured, budget)
            if status in REDIRECTS and location:
                try:
                    target = next_hop(current, location, status, seen, self.max_redirects)
                except FetchError as stopped:  # a loop, or too many: the last answer is kept
                    raise _Failed(stopped.message, status, current) from None
                current, first_hop = target, first_hop or status
            elif method == "HEAD" and status >= 400 and status not in RATE_LIMITED:
                method = "GET"  # HEAD refused or mishandled: GET is what a reader's browser sends
            else:
                return _result(url, current, status, reason, first_hop, now)

    async def _ask(
        self, method: str, url: str, configured: str | None, budget: Budget
    ) -> tuple[int, str, str | None]:
        async with self.slots.hold(url), budget.spend():
            await self.guard.check(url, configured)
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
    said = fold(f"HTTP {status} {reason}")
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
    todo: list[tuple[str, str | None]],
    config: Config,
    now: datetime,
    client: httpx.AsyncClient | None,
    resolver: Resolver,
) -> list[LinkResult]:
    """Check each (URL, configured URL of its source) concurrently."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            # fetch's client, pooled to the link checker's own concurrency.
            settings = dataclasses.replace(config.fetch, concurrency=config.links.concurrency)
            client = await stack.enter_async_context(make_client(settings))
        checker = _Checker(client, config, resolver)
        checks = (checker.check(url, configured, now) for url, configured in todo)
        return list(await asyncio.gather(*checks))


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
