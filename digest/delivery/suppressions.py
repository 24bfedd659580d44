"""`digest subscribers sync`: SendGrid's suppression lists brought into the subscriber list, so
counts, `--dry-run` and the send agree with what SendGrid will deliver.

SendGrid suppresses these addresses whatever digest sends (and charges for each attempt); marking
them here keeps them out of the batches in the first place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.subscribers import MarkReport, Subscribers
from digest.delivery.transports import Ambiguous, Retryable

PAGE = 500  # SendGrid's largest page of a suppression list
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
        lists.append(
            (f"unsubscribe group {group}", f"asm/groups/{group}/suppressions", "unsubscribed")
        )
    lists += GLOBAL_LISTS
    results = []
    for name, path, status in lists:
        emails = _read_all(transport, path)
        marked = subscribers.mark(emails, status, "sync", now)
        results.append(ListSync(name, len(emails), marked))
    return results


def _read_all(transport, path: str) -> list[str]:
    """Every address of a list, page by page; the group list is plain addresses, the global
    lists are objects with an `email`."""
    emails: list[str] = []
    offset = 0
    while True:
        try:
            page = transport.get_json(path, {"limit": PAGE, "offset": offset})
        except (Retryable, Ambiguous) as exc:
            raise DigestError(
                f"could not read SendGrid's {path}: {exc.reason}", "run the sync again later"
            ) from None
        page = page or []
        emails += [entry if isinstance(entry, str) else entry.get("email", "") for entry in page]
        if len(page) < PAGE:
            return emails
        offset += PAGE
