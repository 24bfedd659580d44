"""Plain data passed between the stages."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from datetime import datetime

# The names the weeknote's sources go by in reports and source health; WEEKNOTE is also the
# source line of a weeknote link with neither a publisher nor a host to name.
WEEKNOTE, WEEKNOTE_FEED = "Weeknote", "Weeknote feed"


@dataclass(frozen=True)
class Source:
    """A configured source as the fetcher sees it: its identity and where to fetch it now."""

    key: str  # the configured location as a URL; never changes, even when the source moves
    name: str
    url: str  # where to fetch it: the key, or the target of a remembered permanent redirect
    theme: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    gone: bool = False
    # Found in another source rather than configured (a weeknote post in the blog feed): that
    # source's configured URL, whose address decides where this one may lead.
    found_in: str | None = None


@dataclass(frozen=True)
class Item:
    """One entry of a partner feed, reduced to plain, safe fields."""

    id: str  # stable: from the guid, else the link, else a hash of the content
    source: str  # Source.key
    guid: str | None
    link: str
    canonical_url: str
    title: str
    summary: str
    published: datetime | None  # None when the feed gave no usable date
    date_note: str | None  # why the date is not the feed's own, if it is not
    categories: tuple[str, ...]
    content_hash: str


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    items: tuple[Item, ...]
    note: str | None  # a problem the feed had that did not stop it being read
    cpu_seconds: float


@dataclass(frozen=True)
class SourceReport:
    """One row of `digest fetch`: what happened to one source."""

    name: str
    url: str
    status: str  # new | unchanged | moved | gone | error
    items: int = 0
    new_items: int = 0
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None
    parse_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "error"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IssueItem:
    """One link in an issue: a weeknote link or a partner-feed item, with its theme."""

    url: str
    canonical_url: str
    title: str
    blurb: str
    source: str  # "Weeknote" or the feed's name
    origin: str  # weeknote | feed
    theme: str
    reason: str  # why it has this theme (or was moved there), for --explain
    published: datetime | None = None  # feed items only
    pinned: bool = False
    # The linked page's image (og:image) when enrichment read it with its size: the lead block
    # shows it, at a known height so the layout does not jump while it loads.
    image: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    image_alt: str | None = None
    editorial: bool = False  # linked from the weeknote's editorial, before any heading
    lead: int = 0  # its place among the editor's picks that open the issue (1-3); 0: not one


@dataclass(frozen=True)
class IssueTheme:
    name: str
    slug: str  # stable anchor: "video-consultations"
    items: tuple[IssueItem, ...]  # shown in the email
    more: tuple[IssueItem, ...] = ()  # over the per-theme cap: counted in the email, in the archive
    colour: str | None = None
    emoji: str | None = None
    unmatched_heading: bool = False  # a weeknote heading no theme claims


@dataclass(frozen=True)
class SourceHealth:
    name: str
    url: str
    status: str  # the last fetch's status: new | unchanged | moved | gone | error | never
    error: str | None
    last_ok: str | None
    stale: bool  # no successful fetch within a day of the build


SKIPPED = ("already-sent", "duplicate", "dropped")


@dataclass(frozen=True)
class Decision:
    """Why a candidate is not in the issue."""

    url: str
    title: str
    outcome: str  # already-sent | duplicate | dropped
    reason: str


@dataclass(frozen=True)
class Issue:
    id: str  # ISO week in the newsletter's time zone: "2026-W48"
    title: str  # the newsletter's title
    built_at: datetime
    window_start: datetime
    window_end: datetime
    intro: str  # the weeknote's editorial, or the editor's override
    weeknote_title: str | None
    weeknote_url: str | None
    themes: tuple[IssueTheme, ...]
    sources: tuple[SourceHealth, ...]
    warnings: tuple[str, ...]
    skipped: tuple[Decision, ...]
    weeknote_hash: str | None = None  # what the weeknote says (digest.weeknote.extract)
    stale_since: str | None = None  # the sent issue whose weeknote this one repeats
    # The editor's words from the overrides file: the subject and preheader as written, and a
    # note shown above the intro.
    subject: str | None = None
    preheader: str | None = None
    intro_note: str = ""
    # The title of the build's own first pick, which newsletter.subject's {lead} names; None
    # when there is none (or in issues frozen before it was kept): {lead} is then the first
    # pick, else the first item.
    top_story: str | None = None

    @property
    def lead(self) -> tuple[IssueItem, ...]:
        """The editor's picks, in order: shown first, and not again in their themes."""
        return tuple(sorted((item for item in self.items() if item.lead), key=lambda i: i.lead))

    def items(self) -> list[IssueItem]:
        """Every item the issue includes: shown, or counted over a theme's cap."""
        return [item for theme in self.themes for item in (*theme.items, *theme.more)]

    def counts(self) -> dict[str, int]:
        outcomes = [decision.outcome for decision in self.skipped]
        return {
            "themes": len(self.themes),
            "shown": sum(len(theme.items) for theme in self.themes),
            "more": sum(len(theme.more) for theme in self.themes),
            "from_weeknote": sum(item.origin == "weeknote" for item in self.items()),
            "from_feeds": sum(item.origin == "feed" for item in self.items()),
            **{key.replace("-", "_"): outcomes.count(key) for key in SKIPPED},
            "sources_failed": sum(source.status == "error" for source in self.sources),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The issue as JSON; `indent=None` writes it on one line, with json's C encoder, which
        is several times faster for an issue of thousands of items."""
        return to_json({**vars(self), "lead": self.lead, "counts": self.counts()}, indent)


def to_json(data, indent: int | None = 2) -> str:
    """JSON of plain data holding dataclasses and datetimes, without copying them first (an
    issue can hold thousands of items)."""

    def plain(value):
        if isinstance(value, datetime):
            return value.isoformat()
        return vars(value)

    return json.dumps(data, indent=indent, ensure_ascii=False, default=plain)


def issue_from_dict(data: dict) -> Issue:
    """An Issue again from its JSON (as the ledger and approvals freeze it); keys it no longer
    has are dropped and keys added since take their defaults."""
    themes = tuple(
        _from_dict(
            IssueTheme,
            theme,
            items=tuple(_item(item) for item in theme.get("items", ())),
            more=tuple(_item(item) for item in theme.get("more", ())),
        )
        for theme in data.get("themes", ())
    )
    return _from_dict(
        Issue,
        data,
        built_at=_moment(data.get("built_at")),
        window_start=_moment(data.get("window_start")),
        window_end=_moment(data.get("window_end")),
        themes=themes,
        sources=tuple(_from_dict(SourceHealth, s) for s in data.get("sources", ())),
        warnings=tuple(data.get("warnings", ())),
        skipped=tuple(_from_dict(Decision, d) for d in data.get("skipped", ())),
    )


def _item(data: dict) -> IssueItem:
    return _from_dict(IssueItem, data, published=_moment(data.get("published")))


def _from_dict(cls, data: dict, **values):
    """`cls` from the keys of `data` it has, `values` taking the place of theirs."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{**{key: value for key, value in data.items() if key in names}, **values})


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
