"""Plain data passed between the stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime


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
