"""The settings of feeds.yaml, as frozen dataclasses: they *are* the schema.

Each field's type drives parsing (digest.core.config_reader), its `setting()` metadata carries
the default, a one-line description and an optional check, and a class's `conflict()` names what
is wrong between its keys (`conflict_keys`, when it is about some of them only). Validation,
`digest check` and the README's configuration reference all follow from them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from digest.core.validators import (
    approval,
    batch_size,
    colour,
    email_size,
    few_groups,
    http_url,
    in_flight,
    iso_date,
    mailbox,
    one_line,
    positive,
    regex,
    region,
    share,
    source_location,
    stale_weeknote,
    time_zone,
    transport,
)

REQUIRED = dataclasses.MISSING


def setting(default=REQUIRED, doc: str = "", check=None):
    """A config key: its default (none means required), what it is, and an optional check."""
    meta = {"doc": doc, "check": check}
    if isinstance(default, tuple | list):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    if dataclasses.is_dataclass(default):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Newsletter:
    title: str = setting(doc="the digest's name, shown in the subject and the header")
    website: str = setting(
        doc="the community's site; also the contact URL in the fetcher's User-Agent", check=http_url
    )
    sender: str = setting(doc="From address, 'Name <address>'", check=mailbox)
    reply_to: str | None = setting(None, "Reply-To address", check=mailbox)
    subject: str = setting(
        "{lead}",
        "subject line template ({lead}, {title}, {date}, {top_theme}, {issue}); cut to 60 "
        "characters at a word",
    )
    subscribe_url: str | None = setting(
        None, "sign-up page: 'Forwarded this? Subscribe' in the email and the archive", http_url
    )
    timezone: str = setting(
        "Europe/London", "IANA time zone that decides the issue's week", time_zone
    )
    window_days: int = setting(7, "days of items to consider on the first run", positive)
    catch_all: str = setting("Other news", "theme for items that match no other theme")


@dataclass(frozen=True)
class Theme:
    name: str = setting(doc="the theme's heading in the email")
    aliases: tuple[str, ...] = setting((), "other weeknote headings that mean this theme")
    keywords: tuple[str, ...] = setting((), "words that put a feed item under this theme")
    colour: str | None = setting(None, "accent colour for the theme's heading", colour)
    emoji: str | None = setting(None, "an emoji shown before the theme's heading")


@dataclass(frozen=True)
class Weeknote:
    url: str | None = setting(None, "the weeknote page (URL or local path)", source_location)
    feed: str | None = setting(None, "or: the blog feed that announces weeknotes", source_location)
    title_pattern: str | None = setting(
        None, "with feed: regex a weeknote's title matches (any case)", regex
    )
    category: str | None = setting(None, "with feed: category a weeknote post carries")
    selector: str | None = setting(None, "CSS selector of the article body on the page")
    stale: str = setting(
        "warn",
        "when the weeknote is one already sent: hold (send nothing until a new one), "
        "send-without (the issue without its editorial) or warn",
        stale_weeknote,
    )

    conflict_keys: typing.ClassVar = ("url", "feed")

    def conflict(self) -> str | None:
        if (self.url is None) == (self.feed is None):
            return (
                "set exactly one of url: or feed: (expected a page URL, "
                "or a feed plus title_pattern:/category:)"
            )
        return None


@dataclass(frozen=True)
class Feed:
    name: str = setting(doc="the partner's name, shown beside its items")
    url: str = setting(doc="the feed's URL (http(s), file: or a local path)", check=source_location)
    theme: str | None = setting(None, "default theme for this feed's items (a declared theme)")
    enabled: bool = setting(True, "false skips the feed without deleting it")


@dataclass(frozen=True)
class Branding:
    logo_url: str | None = setting(None, "logo shown in the email's header (http(s))", http_url)
    logo_alt: str | None = setting(None, "the logo's alt text; default: the newsletter's title")
    accent_colour: str = setting(
        "#005eb8", "header band and link colour; needs 4.5:1 contrast with white", colour
    )
    footer_text: str | None = setting(None, "a line of your own in the footer")
    postal_address: str | None = setting(
        None, "the sender's postal address for the footer (bulk mail must carry one)"
    )
    why: str = setting(
        "You are getting this because you subscribed to {title}.",
        "why a reader gets this email ({title} is the newsletter's title)",
    )
    page_colour: str = setting("#f3f2f1", "background around the email's card", colour)
    card_colour: str = setting("#ffffff", "background of the email's content", colour)
    text_colour: str = setting(
        "#1f1f1f", "body text; needs 4.5:1 contrast with card_colour", colour
    )
    muted_colour: str = setting(
        "#505a5f", "source lines and footer; needs 4.5:1 with card_colour and page_colour", colour
    )
    dark_page_colour: str = setting("#121212", "page_colour in dark mode", colour)
    dark_card_colour: str = setting("#1e1e1e", "card_colour in dark mode", colour)
    dark_text_colour: str = setting("#e8e8e8", "text_colour in dark mode", colour)
    dark_muted_colour: str = setting("#b0b0b0", "muted_colour in dark mode", colour)
    dark_link_colour: str = setting(
        "#8cc4ff", "link colour in dark mode; needs 4.5:1 with dark_card_colour", colour
    )


@dataclass(frozen=True)
class Utm:
    enabled: bool = setting(True, "tag outbound links with utm_* parameters")
    source: str = setting("digest", "utm_source (utm_medium, utm_campaign, utm_content follow)")
    medium: str = setting("email", "utm_medium")


@dataclass(frozen=True)
class EmailSettings:
    templates: str | None = setting(
        None, "folder of edited templates beside feeds.yaml; missing ones fall back to the defaults"
    )
    archive_url: str | None = setting(
        None, "web archive's base URL: the 'view in browser' and 'more' links", http_url
    )
    unsubscribe_group: int | None = setting(
        None, "SendGrid unsubscribe group id: the footer uses its unsubscribe links", positive
    )
    unsubscribe_url: str | None = setting(
        None, "unsubscribe page, when there is no unsubscribe group", http_url
    )
    preferences_url: str | None = setting(
        None, "subscription preferences page, when there is no unsubscribe group", http_url
    )
    size_budget: int = setting(
        60_000,
        "bytes of HTML as Gmail gets it (quoted-printable, click tracking's links) over which "
        "the lowest items move to the archive",
        email_size,
    )
    utm: Utm = setting(Utm(), "link tagging; a link that has utm_* parameters keeps its own")
    preview_dir: str = setting("preview", "where digest preview writes, beside feeds.yaml")


@dataclass(frozen=True)
class Tracking:
    clicks: bool = setting(False, "SendGrid click tracking (rewrites every link)")
    opens: bool = setting(False, "SendGrid open tracking (adds a pixel)")


@dataclass(frozen=True)
class Sending:
    transport: str = setting(
        "sendgrid",
        "where sends go: sendgrid (the API) or outbox (.eml files, nothing emailed)",
        transport,
    )
    key_env: str = setting(
        "SENDGRID_API_KEY", "environment variable holding the SendGrid API key (never the key)"
    )
    region: str = setting(
        "global", "SendGrid's region: global, or eu for an EU-pinned account", region
    )
    timeout: float = setting(30.0, "seconds to wait for SendGrid to answer one request", positive)
    batch_size: int = setting(1000, "recipients per request (SendGrid allows 1000)", batch_size)
    max_attempts: int = setting(
        5, "tries per batch on 429, 503 and refused connections (never sent twice)", positive
    )
    max_wait: float = setting(60.0, "longest wait for a rate limit to reset, in seconds", positive)
    batch_budget: float = setting(
        120.0,
        "most seconds one batch waits between its tries; then the next run retries it",
        positive,
    )
    stop_after: int = setting(
        3, "failed requests in a row (no connection, 5xx, no answer) that stop a send", positive
    )
    parallel: int = setting(
        4, "batches sent at once (1 to 16), each waiting for its own answer", in_flight
    )
    category: str = setting("digest", "SendGrid category on every message (with the issue's)")
    groups_to_display: tuple[int, ...] = setting(
        (), "unsubscribe groups shown on SendGrid's preferences page (at most 25)", few_groups
    )
    one_click_url: str | None = setting(
        None,
        "https endpoint that unsubscribes on POST with no further step (RFC 8058); {token} "
        "becomes the recipient's signed token",
        http_url,
    )
    unsubscribe_key_env: str = setting(
        "DIGEST_UNSUBSCRIBE_SECRET",
        "environment variable holding the secret that signs {token} (never the secret)",
    )
    unsubscribe_previous_key_env: str = setting(
        "DIGEST_UNSUBSCRIBE_PREVIOUS_SECRET",
        "environment variable holding the secrets used before the last rotation, separated by "
        "spaces: tokens they signed are accepted until unsubscribe_previous_until",
    )
    unsubscribe_previous_until: str | None = setting(
        None,
        "the grace period's last day (YYYY-MM-DD, in newsletter.timezone): tokens signed with "
        "a previous secret are refused after it",
        iso_date,
    )
    list_id: str | None = setting(
        None,
        "the list's identity: signed into every {token} so that another list's tokens are "
        "refused, and, as a slug, in its issues' SendGrid categories (digest:LIST:ISSUE); "
        "default: newsletter.title (keep it once mail has gone out)",
        one_line,
    )
    unsubscribe_mailto: str | None = setting(
        None, "address for List-Unsubscribe mail requests", mailbox
    )
    tracking: Tracking = setting(Tracking(), "SendGrid tracking settings")
    min_items: int = setting(1, "skip the week when the issue has fewer items than this", positive)
    approval: str = setting(
        "optional",
        "required: a send holds (exit 4) until the issue is approved; optional: an approved "
        "issue is sent as approved, another is built at send time",
        approval,
    )
    require_weeknote: bool = setting(
        True, "refuse to send when the weeknote could not be fetched (--force overrides)"
    )
    outbox: str = setting("outbox", "folder of the outbox transport, beside feeds.yaml")


@dataclass(frozen=True)
class LinkCheck:
    timeout: float = setting(10.0, "seconds to check one link, redirects included", positive)
    concurrency: int = setting(16, "links checked at once", positive)
    per_host: int = setting(2, "links checked at once on one host", positive)
    cache_hours: float = setting(24.0, "hours a link's result is reused", positive)
    max_broken_share: float = setting(
        0.1, "digest send refuses when a larger share of links is broken (--force sends)", share
    )
    before_send: bool = setting(True, "digest send checks the links before sending")


@dataclass(frozen=True)
class Enrich:
    enabled: bool = setting(
        True,
        "read each weeknote link's page (and feed items' without a summary) for its title, "
        "description and publisher",
    )
    timeout: float = setting(10.0, "seconds to read one page's head, redirects included", positive)
    deadline: float = setting(
        20.0, "seconds for reading every page of a build; pages still unread then wait", positive
    )
    max_per_host: int = setting(
        10, "pages read from one host in a build; its other links wait for later builds", positive
    )
    images: bool = setting(
        True,
        "show a pick's page image (og:image): https, public addresses and a plausible size only",
    )
    # Not a key of feeds.yaml: whether this run may request pages. The command line turns it on
    # for build, preview and send unless --offline; everything else reads the cache only.
    online: bool = field(default=False, metadata={"internal": True})


@dataclass(frozen=True)
class ArchiveSettings:
    folder: str = setting("site", "where digest archive writes the web archive, beside feeds.yaml")


@dataclass(frozen=True)
class Curation:
    per_theme: int = setting(8, "items shown per theme; the rest are counted", positive)
    overlap_hours: int = setting(
        12, "hours before the last send still searched (late-dated items)", positive
    )
    overrides: str = setting("overrides.yaml", "the editor's overrides file, beside feeds.yaml")
    catch_all_share: float = setting(
        0.05,
        "share of links the theme classifier leaves to keywords and the catch-all: its "
        "threshold is set by cross-validation to leave this share of held-out links",
        share,
    )


@dataclass(frozen=True)
class State:
    db: str = setting(
        "digest.db", "SQLite state file, relative to feeds.yaml (--db and DIGEST_DB win)"
    )


@dataclass(frozen=True)
class FetchSettings:
    # 64: a warm run takes about ceil(feeds / concurrency) round trips, so most digests' feeds all
    # go out at once; politeness is per_host's job, and each source in progress holds at most one
    # body, so bodies in memory stay under concurrency x their size (~4 MB for 60 KB feeds).
    concurrency: int = setting(64, "sources fetched at once", positive)
    per_host: int = setting(2, "requests at once to one host", positive)
    # A conditional request that finds nothing new answers 304 with no body: it costs the server
    # next to nothing, so sources with stored validators go out more at once, six to a host as
    # a browser does, and the whole run in one or two round trips. A host that sends a body
    # instead goes back to per_host for the rest of the run (digest.sources.fetch).
    revalidate_concurrency: int = setting(
        256, "sources with a stored ETag or Last-Modified fetched at once", positive
    )
    revalidate_per_host: int = setting(
        6,
        "conditional requests at once to one host, until it sends a body (then per_host)",
        positive,
    )
    connect_timeout: float = setting(5.0, "seconds to connect", positive)
    read_timeout: float = setting(15.0, "seconds to wait for each chunk of the body", positive)
    total_timeout: float = setting(
        30.0, "seconds for one source's fetch from its first request, redirects included", positive
    )
    run_timeout: float = setting(
        300.0, "seconds for the whole run; sources still queued then are 'not reached'", positive
    )
    max_bytes: int = setting(5_000_000, "largest body accepted, after decompression", positive)
    max_redirects: int = setting(5, "redirects followed before giving up", positive)
    retry_after_max: float = setting(
        30.0, "longest Retry-After honoured (once) on 429/503", positive
    )
    user_agent: str | None = setting(
        None, "User-Agent; default names digest and newsletter.website"
    )


@dataclass(frozen=True)
class Notify:
    email: str | None = setting(
        None, "who is mailed when a send fails, is held or stops early", mailbox
    )


@dataclass(frozen=True)
class Config:
    newsletter: Newsletter = setting(doc="who sends the digest and how it is titled")
    themes: tuple[Theme, ...] = setting(doc="the themes, in the order the email shows them")
    feeds: tuple[Feed, ...] = setting((), "partner feeds")
    weeknote: Weeknote | None = setting(None, "where this week's weeknote comes from")
    curation: Curation = setting(Curation(), "how items are chosen for an issue")
    branding: Branding = setting(Branding(), "how the email looks")
    email: EmailSettings = setting(EmailSettings(), "templates, links and footer of the email")
    sending: Sending = setting(Sending(), "how digest send delivers the issue")
    notify: Notify = setting(Notify(), "who hears when a send goes wrong")
    links: LinkCheck = setting(LinkCheck(), "how digest links checks the issue's links")
    enrich: Enrich = setting(Enrich(), "how linked pages are read to tidy the issue's items")
    archive: ArchiveSettings = setting(ArchiveSettings(), "the web archive of sent issues")
    state: State = setting(State(), "where digest keeps its state")
    fetch: FetchSettings = setting(FetchSettings(), "how sources are fetched")
    path: Path = field(default=Path("feeds.yaml"), metadata={"internal": True})

    def locate(self, location: str) -> str:
        """A source location as a URL: http(s) and file: URLs as given, paths beside feeds.yaml."""
        if "://" in location or location.startswith("file:"):
            return location
        return (self.path.parent / location).resolve().as_uri()

    def db_path(self) -> Path:
        return self.path.parent / self.state.db

    def overrides_path(self) -> Path:
        return self.path.parent / self.curation.overrides

    def user_agent(self) -> str:
        from digest import __version__

        default = f"digest/{__version__} (weekly email digest; +{self.newsletter.website})"
        return self.fetch.user_agent or default


def settings(cls=Config, prefix: str = "") -> list[tuple[str, str]]:
    """Every config key as (dotted path, description): the reference the README documents."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f"{prefix}{f.name}"
        rows.append((key, f.metadata["doc"]))
        inner = dataclass_in(hints[f.name])
        if inner:
            suffix = "[]." if typing.get_origin(strip_none(hints[f.name])) is tuple else "."
            rows.extend(settings(inner, key + suffix))
    return rows


def strip_none(hint):
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def dataclass_in(hint):
    hint = strip_none(hint)
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    return hint if dataclasses.is_dataclass(hint) else None
