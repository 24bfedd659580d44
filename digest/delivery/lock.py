"""The send lock: one `digest send` at a time per state database, fenced.

A lock nobody renews for LOCK_TTL, or whose process on this machine has died, may be taken over
by the next send: a laptop suspended mid-send, or a send stopped with Ctrl-Z, must not block
every later week. Each taking of the lock gets a new fencing token, one higher than any before
(a released lock keeps its row, so tokens never repeat). The send checks its token in the same
transaction that marks a batch in flight, just before the request: a send that lost its lock
while it was paused stops there, before it can deliver a batch the new holder also owns. A batch
it had already put in flight is unknown to the new holder, never sent again.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.core.errors import DigestError
from digest.core.store import Store

LOCK_TTL = timedelta(minutes=15)  # a lock nobody renews for this long is abandoned
NAME = "send"


class SendInProgress(DigestError):
    hint = "wait for it to finish; a crashed send's lock expires after 15 minutes"


class LockLost(DigestError):
    """Another send took the lock over while this one was paused (suspended, stopped)."""

    hint = (
        "the other send goes on from where this one stopped; run digest status to follow it, "
        "and digest send --resume afterwards if it did not finish"
    )


@dataclass(frozen=True)
class SendLock:
    store: Store
    owner: str
    token: int
    clock: Callable[[], datetime]

    def renew(self, db: sqlite3.Connection) -> None:
        """Inside a write transaction: raise LockLost unless this send still holds the lock,
        else extend it by LOCK_TTL from now."""
        now = self.clock()
        changed = db.execute(
            "UPDATE locks SET expires = ? WHERE name = ? AND owner = ? AND token = ?",
            ((now + LOCK_TTL).isoformat(), NAME, self.owner, self.token),
        )
        if changed.rowcount != 1:
            raise LockLost(
                "another digest send took over the send lock while this one was paused "
                f"(more than {LOCK_TTL.seconds // 60} minutes without a word); this one stopped "
                "before its next request, so nothing was sent twice"
            )


@contextmanager
def send_lock(
    store: Store,
    clock: Callable[[], datetime],
    wait: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SendLock]:
    """Hold the send lock. Another live holder makes this wait up to `wait` seconds, then
    raise SendInProgress. On the way out the lock is released, unless it was lost."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    deadline = time.monotonic() + wait
    while (token := _take(store, owner, clock())) is None:
        if time.monotonic() >= deadline:
            raise SendInProgress("another digest send is in progress")
        sleep(0.2)
    try:
        yield SendLock(store, owner, token, clock)
    finally:
        with store.transaction() as db:
            db.execute(
                "UPDATE locks SET owner = '', expires = acquired WHERE name = ? AND token = ?",
                (NAME, token),
            )


def _take(store: Store, owner: str, now: datetime) -> int | None:
    """The new fencing token when the lock was free or abandoned; None when it is held."""
    with store.transaction() as db:
        row = db.execute("SELECT owner, expires, token FROM locks WHERE name = ?", (NAME,))
        row = row.fetchone()
        if row and row["owner"] and not _abandoned(row, now):
            return None
        token = (row["token"] if row else 0) + 1
        db.execute(
            "INSERT INTO locks (name, owner, acquired, expires, token) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
            " acquired = excluded.acquired, expires = excluded.expires, token = excluded.token",
            (NAME, owner, now.isoformat(), (now + LOCK_TTL).isoformat(), token),
        )
        return token


def _abandoned(row: sqlite3.Row, now: datetime) -> bool:
    """A lock whose time ran out, or whose process on this machine has died."""
    if datetime.fromisoformat(row["expires"]) <= now:
        return True
    host, _, pid = row["owner"].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
