"""The editor's approval: an issue rendered, looked at and frozen, which its send then sends byte
for byte, however the feeds have changed since; and the holds, when a send was kept back.

An approval holds the subject, preheader, HTML and text, the issue (its items and the weeknote
it came from) and a hash of what a reader receives. It can be revoked until the send starts;
after that the ledger's frozen copy is what counts. With `sending.approval: required`, a send
with nothing approved holds: it sends and marks nothing, records the hold for `digest status`,
and exits 4.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from digest.core.errors import DigestError
from digest.core.models import Issue, issue_from_dict
from digest.core.store import Store


class ApprovalError(DigestError):
    """An approval that cannot be given or taken back now."""


@dataclass(frozen=True)
class Approval:
    issue_id: str
    subject: str
    preheader: str
    html: str
    text: str
    issue: Issue
    hash: str
    approved_by: str
    approved_at: str


class Approved(NamedTuple):
    """An approval as `digest status` lists it."""

    subject: str
    hash: str
    approved_by: str
    approved_at: str


def content_hash(subject: str, html: str, text: str) -> str:
    """What a reader receives, as one sha256: an approval shows it, a send can be checked by it."""
    digest = hashlib.sha256()
    for part in (subject, html, text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class Approvals:
    def __init__(self, store: Store):
        self.store = store

    def get(self, issue_id: str) -> Approval | None:
        row = self.store.db.execute(
            "SELECT * FROM approvals WHERE issue = ?", (issue_id,)
        ).fetchone()
        if row is None:
            return None
        issue = issue_from_dict(json.loads(row["issue_json"]))
        return Approval(
            row["issue"],
            row["subject"],
            row["preheader"],
            row["html"],
            row["text"],
            issue,
            row["hash"],
            row["approved_by"],
            row["approved_at"],
        )

    def overview(self) -> dict[str, Approved]:
        """Every approval, by issue, as status lists it: its email and issue are not read."""
        rows = self.store.db.execute(
            "SELECT issue, subject, hash, approved_by, approved_at FROM approvals ORDER BY issue"
        )
        return {row[0]: Approved(*tuple(row)[1:]) for row in rows}

    def approve(
        self, issue: Issue, subject: str, preheader: str, html: str, text: str, by: str, now
    ) -> Approval:
        """Freeze this rendering of `issue` as the one its send sends, in place of any earlier
        approval; refused once the issue's send has started."""
        self._refuse_if_started(issue.id, "approved again")
        digest = content_hash(subject, html, text)
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO approvals (issue, subject, preheader, html, text,"
                " issue_json, hash, approved_by, approved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    issue.id,
                    subject,
                    preheader,
                    html,
                    text,
                    issue.to_json(indent=None),
                    digest,
                    by,
                    now.isoformat(),
                ),
            )
        return self.get(issue.id)

    def revoke(self, issue_id: str) -> bool:
        """Take an approval back before the send starts; whether there was one."""
        self._refuse_if_started(issue_id, "revoked")
        with self.store.transaction() as db:
            return db.execute("DELETE FROM approvals WHERE issue = ?", (issue_id,)).rowcount > 0

    def hold(self, issue_id: str, reason: str, now: datetime) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO holds (issue, reason, held_at) VALUES (?, ?, ?)",
                (issue_id, reason, now.isoformat()),
            )

    def last_holds(self) -> dict[str, tuple[str, str]]:
        """Each held issue's latest hold: (reason, when)."""
        rows = self.store.db.execute(
            "SELECT issue, reason, held_at FROM holds ORDER BY held_at, rowid"
        )
        return {row["issue"]: (row["reason"], row["held_at"]) for row in rows}

    def _refuse_if_started(self, issue_id: str, what: str) -> None:
        row = self.store.db.execute(
            "SELECT status FROM issues WHERE id = ?", (issue_id,)
        ).fetchone()
        if row is not None:
            raise ApprovalError(
                f"issue {issue_id} cannot be {what}: its send is {row['status']}",
                "digest status shows it; an issue's send sends what it froze when it started",
            )
