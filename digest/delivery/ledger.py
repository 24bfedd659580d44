"""The send ledger: which recipients of an issue have been handed to SendGrid, batch by batch.

A send starts by freezing the issue (subject, HTML, text, items) and snapshotting the
recipients into numbered batches, in one transaction. Each batch then moves:

    pending ──▶ in_flight ──▶ accepted          (202: SendGrid has it; never sent again)
                    │    └──▶ failed             (not taken or refused: not delivered; retried)
                    └──────▶ unknown            (maybe taken: no answer, 500; an operator decides)

`in_flight` is committed before the request goes out, in the transaction that checks the send
still holds its lock (digest.delivery.lock), so a process killed mid-request leaves the batch
in_flight, which the next run treats as unknown rather than sending it twice. An unknown batch
is sent again only once a run has reported it to the operator (`reported`) and they asked for
it. The transaction that accepts the last batch also marks the issue sent and its items as sent.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from digest.core.models import Issue
from digest.core.store import Store
from digest.delivery.lock import SendLock
from digest.delivery.message import FrozenEmail

SENDABLE = ("pending", "failed")
# What SendGrid may have: never sent again without the operator's word, never forgotten.
MAYBE_DELIVERED = ("accepted", "unknown", "in_flight")


@dataclass(frozen=True)
class IssueRecord:
    id: str
    status: str  # sending | sent | cancelled
    subject: str
    started_at: str | None
    sent_at: str | None
    send_at: str | None
    sendgrid_batch_id: str | None
    transport: str | None  # sendgrid or outbox; None for sends older than this column
    destination: str | None  # SendGrid's host or the outbox folder
    category: str  # SendGrid's category of its messages (the bare id for sends before it)
    email: FrozenEmail
    issue_json: str | None  # None in sends from before it was kept

    @cached_property
    def issue(self) -> dict:
        """The whole issue as `digest build` writes it (themes, items, intro, sources): decoded
        when asked for, as a send only checks the record's status (megabytes in a large week)."""
        return json.loads(self.issue_json or "{}")


@dataclass(frozen=True)
class Batch:
    issue: str
    number: int
    recipients: list[tuple[str, str | None]]
    status: str
    message_id: str | None
    attempts: int
    last_error: str | None
    reported: bool = False  # an unknown batch the operator has been told of
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (email, SendGrid's reason)


@dataclass(frozen=True)
class BatchSummary:
    """A batch as reports show it: its recipients counted, not read."""

    number: int
    status: str
    message_id: str | None
    attempts: int
    recipients: int
    last_error: str | None
    rejected: list[tuple[str, str]]


@dataclass(frozen=True)
class SendSummary:
    """A send as `digest status` lists it: neither its email nor its issue."""

    id: str
    status: str
    subject: str
    started_at: str | None
    sent_at: str | None
    send_at: str | None
    transport: str | None
    destination: str | None
    batches: tuple[BatchSummary, ...]


class Ledger:
    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    # issues

    def issue(self, issue_id: str) -> IssueRecord | None:
        row = self.db.execute("SELECT * FROM issues WHERE id = ?", (issue_id,)).fetchone()
        return _record(row) if row else None

    def issues(self) -> list[IssueRecord]:
        rows = self.db.execute("SELECT * FROM issues ORDER BY id DESC").fetchall()
        return [_record(row) for row in rows]

    def overview(self) -> list[SendSummary]:
        """Every send, newest first, its batches summarised. Reads none of the issues' emails
        and items or the batches' recipients: a year of weekly sends to 100,000 readers holds
        hundreds of megabytes of them, and `digest status` took seconds to decode them all."""
        batches = defaultdict(list)
        for row in self.db.execute(f"{_BATCH_SUMMARY} ORDER BY issue, number"):
            batches[row["issue"]].append(_batch_summary(row))
        rows = self.db.execute(
            "SELECT id, status, subject, started_at, sent_at, send_at, transport, destination"
            " FROM issues ORDER BY id DESC"
        )
        return [
            SendSummary(*fields[:2], fields[2] or "", *fields[3:], tuple(batches[fields[0]]))
            for fields in map(tuple, rows)
        ]

    def start(
        self,
        issue: Issue,
        content: FrozenEmail,
        recipients: Sequence[tuple[str, str | None]],
        batch_size: int,
        now: datetime,
        transport: tuple[str, str],
        send_at: datetime | None = None,
        sendgrid_batch_id: str | None = None,
        category: str | None = None,
    ) -> None:
        """Freeze the issue and split the recipients into pending batches, all at once.
        `transport` is (name, destination): where every batch of this send goes; `category`
        the SendGrid category every batch carries."""
        stamp = now.isoformat()
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO issues (id, status, subject, started_at, html, text, issue_json,"
                " send_at, sendgrid_batch_id, transport, destination, category)"
                " VALUES (?, 'sending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    issue.id,
                    content.subject,
                    stamp,
                    content.html,
                    content.text,
                    issue.to_json(indent=None),
                    send_at and send_at.isoformat(),
                    sendgrid_batch_id,
                    *transport,
                    category,
                ),
            )
            db.executemany(
                "INSERT INTO send_batches (issue, number, recipients, status, updated)"
                " VALUES (?, ?, ?, 'pending', ?)",
                [
                    (issue.id, n, json.dumps(recipients[start : start + batch_size]), stamp)
                    for n, start in enumerate(range(0, len(recipients), batch_size), 1)
                ],
            )

    def discard(self, issue_id: str) -> bool:
        """Forget a send that cannot have delivered anything (every batch refused or never
        sent), so the next one rebuilds; a batch SendGrid may have keeps the send. Returns
        whether it was forgotten."""
        marks = ", ".join("?" * len(MAYBE_DELIVERED))
        with self.store.transaction() as db:
            maybe = db.execute(
                f"SELECT count(*) FROM send_batches WHERE issue = ? AND status IN ({marks})",
                (issue_id, *MAYBE_DELIVERED),
            ).fetchone()[0]
            if maybe:
                return False
            db.execute("DELETE FROM send_batches WHERE issue = ?", (issue_id,))
            db.execute("DELETE FROM issues WHERE id = ? AND status = 'sending'", (issue_id,))
            return True

    def cancel(self, issue_id: str, now: datetime) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE issues SET status = 'cancelled', sent_at = ? WHERE id = ?",
                (now.isoformat(), issue_id),
            )

    # batches

    def batches(self, issue_id: str) -> list[Batch]:
        rows = self.db.execute(
            "SELECT * FROM send_batches WHERE issue = ? ORDER BY number", (issue_id,)
        )
        return [_batch(row) for row in rows]

    def summaries(self, issue_id: str) -> list[BatchSummary]:
        """The issue's batches, their recipients counted rather than read."""
        rows = self.db.execute(f"{_BATCH_SUMMARY} WHERE issue = ? ORDER BY number", (issue_id,))
        return [_batch_summary(row) for row in rows]

    def in_flight_to_unknown(self, issue_id: str, now: datetime) -> int:
        """Batches a killed run left mid-request: they may have been delivered."""
        with self.store.transaction() as db:
            changed = db.execute(
                "UPDATE send_batches SET status = 'unknown', updated = ?, last_error ="
                " 'the sending process stopped while this batch was being sent'"
                " WHERE issue = ? AND status = 'in_flight'",
                (now.isoformat(), issue_id),
            )
            return changed.rowcount

    def mark(
        self,
        batch: Batch,
        status: str,
        now: datetime,
        error: str | None = None,
        fence: SendLock | None = None,
    ) -> None:
        """Move a batch to in_flight (one more attempt), failed or unknown. With `fence`, the
        send's lock is checked and renewed in the same transaction: LockLost, and no change,
        when another send has taken it over."""
        attempt = 1 if status == "in_flight" else 0
        with self.store.transaction() as db:
            if fence is not None:
                fence.renew(db)
            db.execute(
                "UPDATE send_batches SET status = ?, attempts = attempts + ?, last_error ="
                " coalesce(?, last_error), updated = ? WHERE issue = ? AND number = ?",
                (status, attempt, error, now.isoformat(), batch.issue, batch.number),
            )

    def reject(self, batch: Batch, reasons: dict[int, str], now: datetime) -> Batch:
        """Take the recipients SendGrid refused (by their index in the batch) out of it, record
        them and their reasons on it, and mark them `rejected` on the list, so no later week
        tries them; all in one transaction. Returns the batch as it now is: failed, with the
        others left to send."""
        refused = [(batch.recipients[i][0], why) for i, why in sorted(reasons.items())]
        kept = [r for i, r in enumerate(batch.recipients) if i not in reasons]
        rejected = [*batch.rejected, *refused]
        error = f"SendGrid refused {len(refused)} address(es): " + "; ".join(
            f"{email}: {why}" for email, why in refused
        )
        stamp = now.isoformat()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE send_batches SET recipients = ?, rejected = ?, status = 'failed',"
                " last_error = ?, updated = ? WHERE issue = ? AND number = ?",
                (json.dumps(kept), json.dumps(rejected), error, stamp, batch.issue, batch.number),
            )
            db.executemany(
                "UPDATE subscribers SET status = 'rejected', source = 'send', updated = ?"
                " WHERE email = ?",
                [(stamp, email) for email, _ in refused],
            )
        return dataclasses.replace(
            batch, recipients=kept, rejected=rejected, status="failed", last_error=error
        )

    def report_unknown(self, issue_id: str) -> list[int]:
        """The numbers of the issue's unknown batches, now marked as told to the operator."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE send_batches SET reported = 1 WHERE issue = ? AND status = 'unknown'",
                (issue_id,),
            )
            rows = db.execute(
                "SELECT number FROM send_batches WHERE issue = ? AND status = 'unknown'"
                " ORDER BY number",
                (issue_id,),
            )
            return [row[0] for row in rows]

    def accept(self, batch: Batch, message_id: str | None, now: datetime) -> bool:
        """Record a batch as accepted; when it was the last one, mark the issue sent and its
        items as sent, in the same transaction. Returns whether the issue is now sent.

        The commit is not flushed to the disk (the next flushed one takes it along): lost to a
        power cut, the batch would still be in_flight, so unknown to the next run and never
        sent again; one flush a batch, before its request, is all exactly-once needs."""
        with self.store.transaction(flush=False) as db:
            db.execute(
                "UPDATE send_batches SET status = 'accepted', message_id = ?, last_error = NULL,"
                " updated = ? WHERE issue = ? AND number = ?",
                (message_id, now.isoformat(), batch.issue, batch.number),
            )
            left = db.execute(
                "SELECT count(*) FROM send_batches WHERE issue = ? AND status != 'accepted'",
                (batch.issue,),
            ).fetchone()[0]
            if left:
                return False
            _mark_sent(db, batch.issue, now)
            return True


def _mark_sent(db: sqlite3.Connection, issue_id: str, now: datetime) -> None:
    issue = json.loads(
        db.execute("SELECT issue_json FROM issues WHERE id = ?", (issue_id,)).fetchone()[0]
    )
    db.execute(
        "UPDATE issues SET status = 'sent', sent_at = ? WHERE id = ?", (now.isoformat(), issue_id)
    )
    db.executemany(
        "INSERT OR IGNORE INTO issue_items (issue, canonical_url, url, title, theme)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (issue_id, i["canonical_url"], i["url"], i["title"], i["theme"])
            for i in issue_items(issue)
        ],
    )


def issue_items(issue: dict) -> list[dict]:
    """Every item of a frozen issue: shown, or counted over its theme's cap."""
    return [item for theme in issue["themes"] for item in (*theme["items"], *theme["more"])]


def _record(row: sqlite3.Row) -> IssueRecord:
    return IssueRecord(
        id=row["id"],
        status=row["status"],
        subject=row["subject"] or "",
        started_at=row["started_at"],
        sent_at=row["sent_at"],
        send_at=row["send_at"],
        sendgrid_batch_id=row["sendgrid_batch_id"],
        transport=row["transport"],
        destination=row["destination"],
        category=row["category"] or row["id"],
        email=FrozenEmail(row["subject"] or "", row["html"] or "", row["text"] or ""),
        issue_json=row["issue_json"],
    )


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        issue=row["issue"],
        number=row["number"],
        recipients=[tuple(pair) for pair in json.loads(row["recipients"])],
        status=row["status"],
        message_id=row["message_id"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        reported=bool(row["reported"]),
        rejected=[tuple(pair) for pair in json.loads(row["rejected"])],
    )


_BATCH_SUMMARY = (
    "SELECT issue, number, status, message_id, attempts, json_array_length(recipients),"
    " last_error, rejected FROM send_batches"
)


def _batch_summary(row: sqlite3.Row) -> BatchSummary:
    *head, rejected = tuple(row)[1:]
    return BatchSummary(*head, [tuple(pair) for pair in json.loads(rejected)])
