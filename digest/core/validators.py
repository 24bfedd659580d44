"""The checks of single settings (digest.core.settings): each takes a parsed value and returns
what was expected, or None when the value is fine."""

from __future__ import annotations

import email.utils
import re
from urllib.parse import urlsplit

TRANSPORTS = ("sendgrid", "outbox")
APPROVALS = ("required", "optional")  # sending.approval
STALE_WEEKNOTE = ("hold", "send-without", "warn")  # weeknote.stale
REGIONS = ("global", "eu")  # SendGrid's API hosts: api.sendgrid.com, api.eu.sendgrid.com
MAX_GROUPS_TO_DISPLAY = 25  # SendGrid's limit for asm.groups_to_display
GMAIL_CLIP = 102_000  # bytes of an HTML part beyond which Gmail hides the rest


def positive(value: float) -> str | None:
    return None if value > 0 else "a number above 0"


def http_url(value: str) -> str | None:
    parts = urlsplit(value)
    ok = parts.scheme in ("http", "https") and parts.hostname and not re.search(r"\s", value)
    return None if ok else "an http(s):// URL"


def source_location(value: str) -> str | None:
    """An http(s) URL, a file: URL or a local path (checked against the disk later)."""
    if "://" not in value and not value.startswith("file:"):
        return None if value.strip() and "\n" not in value else "a URL or a local path"
    if urlsplit(value).scheme == "file":
        return None
    return http_url(value) and "an http(s):// URL, a file: URL or a local path"


def mailbox(value: str) -> str | None:
    ok = re.fullmatch(r"(?:[^<>]*<)?[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>?", value.strip())
    return None if ok else "an address like 'Name <digest@example.org>'"


def named_mailbox(value: str) -> str | None:
    """A sender as inboxes should show it: an address with a name beside it ('news@…' alone
    shows as itself, not as who the digest is from)."""
    if mailbox(value):
        return mailbox(value)
    return None if email.utils.parseaddr(value)[0].strip() else "a name and an address, 'Name <…>'"


def time_zone(value: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "an IANA time zone such as Europe/London"
    return None


def colour(value: str) -> str | None:
    return None if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else "a colour like '#1d70b8'"


def email_size(value: int) -> str | None:
    ok = 20_000 <= value <= GMAIL_CLIP
    return None if ok else f"a number of bytes from 20,000 to {GMAIL_CLIP:,}, where Gmail clips"


def batch_size(value: int) -> str | None:
    return None if 1 <= value <= 1000 else "a whole number from 1 to 1000"


def in_flight(value: int) -> str | None:
    return None if 1 <= value <= 16 else "a whole number from 1 to 16"


def approval(value: str) -> str | None:
    return None if value in APPROVALS else "required or optional"


def stale_weeknote(value: str) -> str | None:
    return None if value in STALE_WEEKNOTE else "hold, send-without or warn"


def transport(value: str) -> str | None:
    return None if value in TRANSPORTS else "sendgrid or outbox"


def region(value: str) -> str | None:
    return None if value in REGIONS else "global or eu"


def few_groups(value: tuple[int, ...]) -> str | None:
    if len(value) <= MAX_GROUPS_TO_DISPLAY:
        return None
    return f"at most {MAX_GROUPS_TO_DISPLAY} groups, SendGrid's limit"


def iso_date(value: str) -> str | None:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        return "a date like 2027-03-31"
    return None


def one_line(value: str) -> str | None:
    return None if value.strip() and value.isprintable() else "one line of text"


def regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"a valid regular expression ({exc})"
    return None


def share(value: float) -> str | None:
    return None if 0 <= value <= 1 else "a share from 0 to 1, such as 0.1"
