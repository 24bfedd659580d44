"""`digest subscribers sync`: SendGrid's suppression lists brought into the subscriber list, so
counts, `--dry-run` and the send agree with what SendGrid will deliver.

SendGrid suppresses these addresses whatever digest sends (and charges for each attempt); marking
them here keeps them out of the batches in the first place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.core.settings import Config
from digest.delivery.subscribers import MarkReport, Subscribers

PAGE = 500  # SendGrid's largest page of a global suppression list
# (what the list is called, its API path, the status its addresses get). Later lists win, so an
# address that complained is marked complained even if it also unsubscribed.
GLOBAL_LISTS = (
    ("global unsubscribes", "suppression/unsubscribes", "unsubscribed"),
    ("bounces", "suppression/bounces", "bounced"),
    ("spam reports", "suppression/spam_reports", "complained"),
)


@dataclass(frozen=True)
class ListSync:
    name: str
    found: int
    report: MarkReport


def sync_suppressions(
    transport, subscribers: Subscribers, config: Config, now: datetime
) -> list[ListSync]:
    """Mark subscribers found on the unsubscribe group's suppressions and on the global
    unsubscribe, bounce and spam report lists."""
    lists = []
    group = config.email.unsubscribe_group
    if group:
        # The group's list comes whole, as plain addresses: the endpoint takes no paging.
        answer = transport.get_json(f"asm/groups/{group}/suppressions", {})
        lists.append((f"unsubscribe group {group}", _addresses(answer), "unsubscribed"))
    lists += [(name, _read_pages(transport, path), status) for name, path, status in GLOBAL_LISTS]
    return [
        ListSync(name, len(emails), subscribers.mark(emails, status, "sync", now))
        for name, emails, status in lists
    ]


def _read_pages(transport, path: str) -> list[str]:
    """Every address of a global list (objects with an `email`), page by page."""
    emails: list[str] = []
    offset = 0
    while True:
        page = transport.get_json(path, {"limit": PAGE, "offset": offset})
        page = page if isinstance(page, list) else []
        emails += _addresses(page)
        if len(page) < PAGE:
            return emails
        offset += PAGE


def _addresses(entries: object) -> list[str]:
    """The addresses of a list's entries, plain strings or objects with an `email`; anything
    else in an answer is skipped (mark() counts what is not an address)."""
    if not isinstance(entries, list):
        return []
    found = (e.get("email") if isinstance(e, dict) else e for e in entries)
    return [e for e in found if isinstance(e, str)]
