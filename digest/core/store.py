"""The SQLite state: opening it (its schema brought up to date, digest.core.migrations), its
transactions, and typed queries.

Every write that belongs together happens in one transaction, so an interrupted run leaves the
state as it was before that source, never half-way.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from digest.core.errors import StateError
from digest.core.migrations import MIGRATIONS, statements
from digest.core.models import Item, Source

# SQLite's primary result codes for failures of the machine rather than of digest: a full disk,
# a read-only file or folder, an I/O error, a database another process keeps locked.
ENVIRONMENT_FAILURES = {
    sqlite3.SQLITE_FULL: "the disk is full: free some space and run the command again",
    sqlite3.SQLITE_READONLY: "the file or its folder is read-only: check its permissions",
    sqlite3.SQLITE_CANTOPEN: "the file or its folder is read-only: check its permissions",
    sqlite3.SQLITE_PERM: "the file or its folder is read-only: check its permissions",
    sqlite3.SQLITE_IOERR: "the disk could not read or write it: check the disk",
    sqlite3.SQLITE_BUSY: "another digest command keeps it locked: wait for it to finish",
}

# Seconds SQLite waits for another connection's lock before it answers "database is locked".
BUSY_TIMEOUT = 30.0
# SQLite answers SQLITE_BUSY at once, without waiting, in a few places where waiting could
# deadlock: among them switching a brand-new file to WAL while another process writes its first
# page, which is what processes creating one database at the same moment do. Opening retries
# those with growing, jittered pauses, for as long as SQLite itself would have waited.
FIRST_PAUSE, LONGEST_PAUSE = 0.005, 0.5


def _while_busy(step: Callable[[], None]) -> None:
    """Run `step` until it does not fail with SQLITE_BUSY or SQLITE_LOCKED, or BUSY_TIMEOUT
    has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = FIRST_PAUSE
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            locked = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not locked or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))  # apart, so racers do not collide again
        pause = min(pause * 2, LONGEST_PAUSE)


UPSERT_ITEM = """
    INSERT INTO items (id, source, guid, link, canonical_url, title, summary, published,
                       date_note, categories, content_hash, first_seen, updated)
    VALUES (:id, :source, :guid, :link, :canonical_url, :title, :summary,
            coalesce(:published, :now), :date_note, :categories, :content_hash, :now, :now)
    ON CONFLICT (id) DO UPDATE SET
        link = excluded.link, canonical_url = excluded.canonical_url, title = excluded.title,
        summary = excluded.summary, date_note = excluded.date_note,
        categories = excluded.categories, content_hash = excluded.content_hash,
        updated = excluded.updated,
        -- a dateless item keeps the date it was first seen; a dated one follows the feed
        published = coalesce(:published, items.published)
"""


def _item_row(item: Item, now: str) -> dict:
    published = _stamp(item.published) if item.published else None
    categories = json.dumps(item.categories)
    return {**vars(item), "published": published, "categories": categories, "now": now}


# The columns of an Item, in its fields' order: a build reads thousands of rows, and making
# each Item from a plain tuple by position takes a third less time than by column name.
_ITEM_COLUMNS = ", ".join(Item.__dataclass_fields__)


def _row_item(row: tuple) -> Item:
    *head, published, date_note, categories, content_hash = row
    published = datetime.fromisoformat(published)
    return Item(*head, published, date_note, tuple(json.loads(categories)), content_hash)


def _stamp(moment: datetime) -> str:
    """A moment as stored: UTC, whole seconds, so stamps compare as text."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class StoredPage(NamedTuple):
    """A page source's last body, and the HTTP Content-Type it came with (None for a file)."""

    body: bytes
    content_type: str | None


class Store:
    def __init__(self, db: sqlite3.Connection, path: Path):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> Store:
        """The state database at `path`, its schema brought up to date. Only commands that
        fetch, send a test or add subscribers create a missing one (`create`); the others
        refuse."""
        path = Path(path)
        if not create and not path.exists():
            raise StateError(
                f"no state database at {path}",
                "check --db / DIGEST_DB (or state.db in feeds.yaml); digest fetch creates it",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        db.row_factory = sqlite3.Row
        store = cls(db, path)
        try:
            _while_busy(store._set_up)
        except StateError:
            db.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            db.close()
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        return store

    def _set_up(self) -> None:
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Bring the schema up to date, all of it in one write transaction. The version is read
        again once the write lock is held, so when two processes open a new database at once,
        the second finds the first one's work done instead of creating the tables twice."""
        if self.version == len(MIGRATIONS):
            return  # the usual case, which needs no write lock
        with self._write() as db:
            current = self.version
            if current > len(MIGRATIONS):
                raise StateError(
                    f"{self.path} has schema version {current}, newer than this digest knows "
                    f"({len(MIGRATIONS)})",
                    "upgrade digest, or point --db at another file",
                )
            for script in MIGRATIONS[current:]:
                for statement in statements(script):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error, which passes on as it is."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite itself rolls back after some failures
                self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self, flush: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error. A failure of the machine (full
        disk, read-only file) becomes a StateError naming the file; nothing is half-written.
        With `flush=False` the commit reaches the write-ahead log but not the disk: a crash of
        digest keeps it, a power cut may lose it whole, until the next flushed commit of any
        connection (the log is written in order) makes it durable too."""
        try:
            if not flush:
                self.db.execute("PRAGMA synchronous = NORMAL")
            with self._write() as db:
                yield db
        except sqlite3.OperationalError as exc:
            hint = ENVIRONMENT_FAILURES.get(exc.sqlite_errorcode & 0xFF)
            if hint is None:
                raise
            message = f"cannot write the state database {self.path}: {exc}"
            raise StateError(message, hint) from None
        finally:
            if not flush:
                self.db.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def unflushed(self) -> Iterator[None]:
        """Commits meanwhile reach the write-ahead log but not the disk (synchronous = NORMAL):
        a crash of digest loses none of them, a power cut may lose the last ones, each whole.
        At the end one checkpoint flushes the log, and the setting is as it was. A fetch stores
        each source in a transaction of its own: flushing each took a cold run of 100 feeds a
        second or more, on the thread that fetches; the next run fetches what a power cut lost."""
        (before,) = self.db.execute("PRAGMA synchronous").fetchone()
        self.db.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA synchronous = {int(before)}")
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # sources

    def source(self, key: str, name: str, theme: str | None = None) -> Source:
        """The configured source with its remembered state (validators, redirect, gone)."""
        row = self.db.execute("SELECT * FROM sources WHERE key = ?", (key,)).fetchone()
        if row is None:
            return Source(key, name, key, theme)
        return Source(
            key,
            name,
            row["url"],
            theme,
            row["etag"],
            row["last_modified"],
            row["content_hash"],
            bool(row["gone"]),
        )

    def last_failure(self, key: str) -> str | None:
        """Why the last fetch of a source failed, or None when it did not (or never ran)."""
        row = self.db.execute(
            "SELECT last_status, last_error FROM sources WHERE key = ?", (key,)
        ).fetchone()
        return row["last_error"] if row and row["last_status"] == "error" else None

    def sources(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM sources ORDER BY name").fetchall()

    def _save_source(self, db: sqlite3.Connection, source: Source, now: datetime, **state) -> None:
        state = {"name": source.name, "url": source.url, "last_fetched": now.isoformat(), **state}
        columns = ", ".join(state)
        updates = ", ".join(f"{column} = excluded.{column}" for column in state)
        db.execute(
            f"INSERT INTO sources (key, {columns}) VALUES (?{', ?' * len(state)}) "
            f"ON CONFLICT (key) DO UPDATE SET {updates}",
            (source.key, *state.values()),
        )

    def _save_fresh(
        self, db, source, now, content_hash, etag, last_modified, status, **extra
    ) -> None:
        """The state of a source that just gave a new body: its validators, and healthy."""
        self._save_source(
            db,
            source,
            now,
            etag=etag,
            last_modified=last_modified,
            content_hash=content_hash,
            last_status=status,
            last_error=None,
            last_ok=_stamp(now),
            gone=0,
            **extra,
        )

    def record_unchanged(
        self, source: Source, etag: str | None, last_modified: str | None, now: datetime
    ) -> int:
        """A 304 or an identical body: refresh the validators; return the item count."""
        with self.transaction() as db:
            self._save_source(
                db,
                source,
                now,
                etag=etag,
                last_modified=last_modified,
                last_status="unchanged",
                last_error=None,
                last_ok=_stamp(now),
            )
        row = self.db.execute("SELECT item_count FROM sources WHERE key = ?", (source.key,))
        return row.fetchone()[0]

    def record_items(
        self,
        source: Source,
        items: Iterable[Item],
        content_hash: str,
        etag: str | None,
        last_modified: str | None,
        status: str,
        now: datetime,
    ) -> tuple[int, int]:
        """Store a freshly parsed body's items with the source's new state, in one transaction.
        Returns (items in the body, items never seen before)."""
        rows = [_item_row(item, _stamp(now)) for item in items]
        with self.transaction() as db:
            self._save_fresh(
                db, source, now, content_hash, etag, last_modified, status, item_count=len(rows)
            )
            # Looked up by primary key: items has no index on source, and scanning the whole
            # table for every feed made a cold run quadratic in the number of items.
            ids = {row["id"] for row in rows}
            known = db.execute(
                "SELECT count(*) FROM items WHERE id IN (SELECT value FROM json_each(?))"
                " AND source = ?",
                (json.dumps(sorted(ids)), source.key),
            ).fetchone()[0]
            db.executemany(UPSERT_ITEM, rows)
        return len(rows), len(ids) - known

    def record_gone(self, source: Source, now: datetime) -> None:
        with self.transaction() as db:
            self._save_source(
                db, source, now, gone=1, last_status="gone", last_error="HTTP 410 Gone"
            )

    def record_page(
        self,
        source: Source,
        body: bytes,
        content_hash: str,
        etag: str | None,
        last_modified: str | None,
        status: str,
        now: datetime,
        *,
        content_type: str | None,
    ) -> None:
        """Keep a page source's new body (the weeknote) and the Content-Type it was served with
        (its charset says how to read it) with its state, in one transaction."""
        with self.transaction() as db:
            self._save_fresh(db, source, now, content_hash, etag, last_modified, status)
            db.execute(
                "INSERT INTO pages (source, body, content_type) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET"
                " body = excluded.body, content_type = excluded.content_type",
                (source.key, body, content_type),
            )

    def page(self, key: str) -> StoredPage | None:
        row = self.db.execute(
            "SELECT body, content_type FROM pages WHERE source = ?", (key,)
        ).fetchone()
        return StoredPage(row["body"], row["content_type"]) if row else None

    def record_error(self, source: Source, error: str, now: datetime) -> None:
        with self.transaction() as db:
            self._save_source(db, source, now, last_status="error", last_error=error)

    # items

    def items(self, source: str | None = None) -> list[sqlite3.Row]:
        query, args = "SELECT * FROM items", ()
        if source is not None:
            query, args = query + " WHERE source = ?", (source,)
        return self.db.execute(query + " ORDER BY published DESC, id", args).fetchall()

    def items_between(self, sources: list[str], start: datetime, end: datetime) -> list[Item]:
        """Items of these sources published in [start, end], newest first."""
        marks = ", ".join("?" * len(sources))
        cursor = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE source IN ({marks})"
            " AND published >= ? AND published <= ? ORDER BY published DESC, id",
            (*sources, _stamp(start), _stamp(end)),
        )
        cursor.row_factory = None  # plain tuples
        return [_row_item(row) for row in cursor]

    # issues

    def last_sent(self) -> tuple[str, datetime] | None:
        """The most recently sent issue's id and when it was sent."""
        row = self.db.execute(
            "SELECT id, sent_at FROM issues WHERE status = 'sent' ORDER BY sent_at DESC LIMIT 1"
        ).fetchone()
        return (row["id"], datetime.fromisoformat(row["sent_at"])) if row else None

    def sent_urls(self) -> dict[str, str]:
        """Every canonical URL a sent issue included, with the first issue that included it."""
        rows = self.db.execute(
            "SELECT canonical_url, min(issue) FROM issue_items JOIN issues ON issues.id = issue"
            " WHERE status = 'sent' GROUP BY canonical_url"
        )
        return dict(rows.fetchall())
