"""`digest doctor`: is this digest ready to send? A checklist of `Check`s, each passed, failed or
skipped with a one-line hint.

Rules: a check that could not run (no key, SendGrid unreachable, no state database) is a
failure that says why, never a pass; a check that does not apply (SendGrid's, under the outbox
transport) is a skip that says so. Nothing here changes what the next send does: the state
database gets a write that is rolled back and a temporary file beside it, and the sources are
fetched into memory (with the stored validators, read only), never into the state, so a doctor
run neither moves a source's validators nor adds items, and the "last run" check keeps
measuring the last real run. The clock, the environment, SendGrid and the HTTP client are
passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import sqlite3
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from digest.core.config import load_config
from digest.core.errors import ConfigError, DigestError, SourceError
from digest.core.models import Source
from digest.core.settings import Config, Feed
from digest.core.store import ENVIRONMENT_FAILURES, Store
from digest.curation import curate
from digest.delivery.connect import sendgrid_transport
from digest.ops.checklist import Check, not_run
from digest.ops.sendgrid_checks import sendgrid_checks
from digest.sources.feeds import parse_feed_safely
from digest.sources.fetch import Fetcher, make_client
from digest.sources.guard import Resolver, system_resolver

STALE_RUN = timedelta(days=8)  # a weekly cron that has missed a run
CRON_HINT = (
    "check that cron or the systemd timer still runs digest send (deploy/ has the recipes; "
    "systemctl list-timers digest.timer, crontab -l)"
)


def diagnose(
    config_path: str | Path,
    db_path: str | Path | None,
    now: datetime,
    environ: Mapping[str, str] = os.environ,
    connect: Callable[[Config], object] | None = None,
    client: httpx.AsyncClient | None = None,
    resolver: Resolver = system_resolver,
) -> list[Check]:
    """Every check, in the order a reader fixes things. `connect` makes the SendGrid API
    object (default: the send transport, whose `get_json` answers GETs)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        first = exc.problems[0] if exc.problems else exc.message
        return [Check("config", False, f"{first} ({exc.message}); run digest check for all")]
    connect = connect or (lambda config: sendgrid_transport(config, lambda: now, environ))
    checks = [Check("config", True, f"{config_path} is valid"), *settings_checks(config)]
    path = Path(db_path or config.db_path())
    store, state = open_state(path)
    checks.append(state)
    try:
        checks += sendgrid_checks(config, environ, connect)
        checks += asyncio.run(source_checks(config, store, now, client, resolver))
        if store is None:
            checks.append(not_run("last run", f"the state database {path} could not be opened"))
        else:
            checks.append(last_run_check(store, now))
    finally:
        if store is not None:
            store.close()
    return checks


def settings_checks(config: Config) -> list[Check]:
    """What feeds.yaml must say for a send that is allowed and answerable."""
    sender = email.utils.parseaddr(config.newsletter.sender)[1]
    reply_to = config.newsletter.reply_to
    mail, unsubscribe = config.email, _unsubscribe(config)
    return [
        Check("sender", bool(sender), sender or "set newsletter.sender: 'Name <address>'"),
        Check(
            "reply-to",
            bool(reply_to),
            reply_to or "set newsletter.reply_to, so replies reach a person who reads them",
        ),
        Check(
            "unsubscribe",
            bool(unsubscribe),
            unsubscribe
            or "set email.unsubscribe_group (a SendGrid group), email.unsubscribe_url or "
            "sending.unsubscribe_mailto: bulk mail must let readers leave",
        ),
        Check(
            "postal address",
            bool(config.branding.postal_address),
            config.branding.postal_address
            or "set branding.postal_address: bulk mail must carry the sender's postal address",
        ),
        Check(
            "archive URL",
            bool(mail.archive_url),
            mail.archive_url
            or "set email.archive_url: the 'view in browser' and 'more' links need it",
        ),
    ]


def _unsubscribe(config: Config) -> str | None:
    if config.email.unsubscribe_group:
        return f"SendGrid unsubscribe group {config.email.unsubscribe_group}"
    if config.email.unsubscribe_url:
        return config.email.unsubscribe_url
    if config.sending.unsubscribe_mailto:
        return f"mailto:{config.sending.unsubscribe_mailto}"
    return None


def open_state(path: Path) -> tuple[Store | None, Check]:
    """The state database, and whether it can be written: a write in a transaction that is
    rolled back, and a temporary file beside it (SQLite also writes its -wal file there)."""
    name = "state database"
    try:
        store = Store.open(path, create=False)
    except DigestError as exc:
        return None, Check(name, False, f"{exc.message}; {exc.hint}")
    try:
        _rolled_back_write(store)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".digest-doctor-") as probe:
            probe.write(b"digest doctor")
            probe.flush()
            os.fsync(probe.fileno())
    except (sqlite3.Error, OSError) as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        hint = ENVIRONMENT_FAILURES.get(code, "check the disk and the folder's permissions")
        return store, Check(name, False, f"{path} cannot be written ({exc}); {hint}")
    return store, Check(name, True, f"{path} is writable")


def _rolled_back_write(store: Store) -> None:
    db = store.db
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE doctor_probe (written TEXT)")
        db.execute("INSERT INTO doctor_probe VALUES ('digest doctor')")
    finally:
        db.execute("ROLLBACK")


async def source_checks(config, store, now, client, resolver) -> list[Check]:
    """Every enabled feed, and the weeknote rule, fetched into memory at once."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(make_client(config.fetch))
        fetcher = Fetcher(client, config.fetch, config.user_agent(), resolver=resolver)
        feeds = [feed_check(fetcher, config, store, feed, now) for feed in config.feeds]
        return list(await asyncio.gather(*feeds, weeknote_check(fetcher, config, store, now)))


async def feed_check(fetcher, config: Config, store: Store | None, feed: Feed, now) -> Check:
    """The feed answers and parses. Its stored validators are sent, so an unchanged feed
    answers 304 (it parsed when it last changed) and costs its server nothing."""
    name = f"feed {feed.name}"
    if not feed.enabled:
        return Check(name, True, "skipped: enabled: false", skipped=True)
    key = config.locate(feed.url)
    source = store.source(key, feed.name) if store else Source(key, feed.name, key)
    if source.gone:
        return Check(name, False, "retired after HTTP 410: remove it from feeds.yaml")
    try:
        fetched = await fetcher.fetch(source.url, source.etag, source.last_modified)
    except SourceError as exc:
        return Check(name, False, exc.message)
    if fetched.gone:
        return Check(name, False, "HTTP 410: the feed is retired; remove it from feeds.yaml")
    if fetched.not_modified:
        return Check(name, True, "unchanged since the last fetch (HTTP 304)")
    content_type = fetched.headers.get("content-type")
    parsed = parse_feed_safely(fetched.body, fetched.url, key, content_type, now)
    if isinstance(parsed, str):
        return Check(name, False, f"{parsed}: check feeds.yaml's url for this feed")
    return Check(
        name, True, f"{len(parsed.items)} items" + (f"; {parsed.note}" if parsed.note else "")
    )


async def weeknote_check(fetcher, config: Config, store: Store | None, now) -> Check:
    rule = config.weeknote
    if rule is None:
        why = "skipped: no weeknote: configured (issues are built from the feeds alone)"
        return Check("weeknote", True, why, skipped=True)
    try:
        if rule.url:
            return await _weeknote_page(fetcher, config, rule.url)
        return await _weeknote_post(fetcher, config, store, now)
    except SourceError as exc:
        return Check("weeknote", False, exc.message)


async def _weeknote_page(fetcher, config: Config, location: str) -> Check:
    from digest.weeknote.extract import extract_weeknote  # the HTML parser only when needed

    url = config.locate(location)
    fetched = await fetcher.fetch(url, truncate=True)
    if fetched.gone:
        return Check("weeknote", False, "HTTP 410: the page is gone; fix weeknote.url")
    content_type = fetched.headers.get("content-type")
    page = extract_weeknote(
        fetched.body, fetched.url, config.weeknote.selector, config.fetch.max_bytes, content_type
    )
    links = sum(len(section.links) for section in page.sections)
    if not links:
        return Check("weeknote", False, f"{url} has no links: check weeknote.url and .selector")
    return Check("weeknote", True, f"{page.title or url}: {links} links")


async def _weeknote_post(fetcher, config: Config, store: Store | None, now) -> Check:
    """The post the rule picks from the blog feed in this issue's window, as a send would."""
    rule = config.weeknote
    key = config.locate(rule.feed)
    fetched = await fetcher.fetch(key)  # no validators: the posts themselves are needed
    parsed = parse_feed_safely(
        fetched.body, fetched.url, key, fetched.headers.get("content-type"), now
    )
    if isinstance(parsed, str):
        return Check("weeknote", False, f"{rule.feed}: {parsed}")
    last = store.last_sent() if store else None
    start, end = curate.window(now, config, last[1] if last else None)
    # A post without a date counts as new, as the store would date it on first sight.
    posts = [item for item in parsed.items if start <= (item.published or now) <= end]
    post = curate.pick_weeknote_post(posts, rule)
    if post is None:
        return Check(
            "weeknote",
            False,
            f"no post in {rule.feed} since {start:%Y-%m-%d %H:%M} matches the rule: check "
            "weeknote.title_pattern and weeknote.category, or whether this week's is published",
        )
    return Check("weeknote", True, f"{post.title} ({post.link})")


def last_run_check(store: Store, now: datetime) -> Check:
    """The last send (cron's weekly run), else the last good fetch, is at most ~8 days old."""
    name = "last run"
    last = store.last_sent()
    if last is not None:
        what, when = f"issue {last[0]} sent", last[1]
    else:
        stamps = [row["last_ok"] for row in store.sources() if row["last_ok"]]
        if not stamps:
            return Check(name, False, f"nothing fetched or sent yet: run digest fetch; {CRON_HINT}")
        what, when = "last good fetch (no issue sent yet)", datetime.fromisoformat(max(stamps))
    age = now - when
    days = age.total_seconds() / 86400
    summary = f"{what} {when:%Y-%m-%d %H:%M}, {days:.1f} days ago"
    if age > STALE_RUN:
        return Check(name, False, f"{summary}: {CRON_HINT}")
    return Check(name, True, summary)
