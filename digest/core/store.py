"""The SQLite state: schema, numbered migrations (PRAGMA user_version), typed queries.

Every write that belongs together happens in one transaction, so an interrupted run leaves the
state as it was before that source, never half-way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from digest.core.errors import StateError
from digest.core.models import Item, Source

# Append only: each entry moves the schema from version N to N+1.
MIGRATIONS = (
    """
    CREATE TABLE sources (
        key TEXT PRIMARY KEY,           -- the configured location, as a URL
        name TEXT NOT NULL,
        url TEXT NOT NULL,              -- where it is fetched now (a remembered permanent redirect)
        etag TEXT,
        last_modified TEXT,
        content_hash TEXT,              -- sha256 of the last parsed body
        item_count INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        last_status TEXT,
        last_error TEXT,
        last_fetched TEXT,
        last_ok TEXT
    );
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL REFERENCES sources(key),
        guid TEXT,
        link TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        published TEXT NOT NULL,        -- the feed's date, or first_seen when it had none
        date_note TEXT,
        categories TEXT NOT NULL,       -- JSON list
        content_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX items_canonical_url ON items (canonical_url);
    CREATE INDEX items_published ON items (published);
    """,
    """
    CREATE TABLE pages (                -- the last body of a page source (the weeknote)
        source TEXT PRIMARY KEY REFERENCES sources(key),
        body BLOB NOT NULL
    );
    CREATE TABLE issues (
        id TEXT PRIMARY KEY,            -- ISO week in the newsletter's time zone: 2026-W48
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'cancelled')),
        subject TEXT,
        content_hash TEXT,
        started_at TEXT,
        sent_at TEXT
    );
    CREATE TABLE issue_items (          -- what an issue included, shown or counted under a cap
        issue TEXT NOT NULL REFERENCES issues(id),
        canonical_url TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        theme TEXT NOT NULL,
        PRIMARY KEY (issue, canonical_url)
    );
    CREATE INDEX issue_items_canonical_url ON issue_items (canonical_url);
    """,
    """
    CREATE TABLE subscribers (
        email TEXT PRIMARY KEY,         -- normalised: trimmed, domain in lower case
        name TEXT,
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced', 'complained')),
        source TEXT,                    -- where it came from: cli, import:FILE, sync
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    -- What a send froze when it started, so a resume sends the same bytes.
    ALTER TABLE issues ADD COLUMN html TEXT;
    ALTER TABLE issues ADD COLUMN text TEXT;
    ALTER TABLE issues ADD COLUMN issue_json TEXT;       -- the issue as digest build writes it
    ALTER TABLE issues ADD COLUMN send_at TEXT;           -- a scheduled send's time
    ALTER TABLE issues ADD COLUMN sendgrid_batch_id TEXT; -- lets a scheduled send be cancelled
    CREATE TABLE send_batches (         -- the ledger: each batch of recipients of an issue
        issue TEXT NOT NULL REFERENCES issues(id),
        number INTEGER NOT NULL,
        recipients TEXT NOT NULL,       -- JSON list of [email, name]
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'in_flight', 'accepted', 'failed', 'unknown')),
        message_id TEXT,                -- SendGrid's X-Message-Id once accepted
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated TEXT NOT NULL,
        PRIMARY KEY (issue, number)
    );
    CREATE TABLE locks (                -- one row per held lock; expired rows may be taken over
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        acquired TEXT NOT NULL,
        expires TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE link_checks (          -- the last check of each outbound link, kept a day
        url TEXT PRIMARY KEY,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('ok', 'redirected', 'client-error', 'server-error', 'timeout', 'error')),
        status INTEGER,                 -- the last HTTP status, if any answer came
        final_url TEXT,                 -- where redirects ended
        detail TEXT,                    -- what went wrong, one line
        checked_at TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE issues ADD COLUMN transport TEXT;       -- sendgrid or outbox
    ALTER TABLE issues ADD COLUMN destination TEXT;     -- SendGrid's host, or the outbox folder
    """,
    """
    ALTER TABLE pages ADD COLUMN content_type TEXT;     -- the HTTP Content-Type it was served with
    CREATE TABLE page_heads (           -- what a linked page says of itself, for enrichment
        url TEXT PRIMARY KEY,           -- the link as found (after unwrapping)
        final_url TEXT,                 -- where redirects ended
        title TEXT,                     -- og:title, twitter:title or <title>
        description TEXT,               -- og:description or meta description
        publisher TEXT,                 -- og:site_name or JSON-LD publisher
        canonical TEXT,                 -- rel=canonical, absolute
        image TEXT,                     -- og:image, absolute
        image_width INTEGER,
        image_height INTEGER,
        image_alt TEXT,
        error TEXT,                     -- why the page could not be read, one line
        fetched_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE theme_examples (       -- labelled links the theme classifier learns from
        canonical_url TEXT PRIMARY KEY,
        theme TEXT NOT NULL,
        text TEXT NOT NULL,             -- title, blurb and the linked page's title and description
        domain TEXT NOT NULL,
        issue TEXT,                     -- the issue or page it came from
        origin TEXT NOT NULL CHECK (origin IN ('weeknote', 'override', 'learn')),
        updated TEXT NOT NULL
    );
    CREATE INDEX theme_examples_theme ON theme_examples (theme);
    """,
    """
    CREATE TABLE issue_stats (          -- SendGrid's statistics of an issue's category, per day
        issue TEXT NOT NULL,
        day TEXT NOT NULL,              -- YYYY-MM-DD, as SendGrid aggregates them
        requests INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        bounces INTEGER NOT NULL DEFAULT 0,
        blocks INTEGER NOT NULL DEFAULT 0,
        spam_reports INTEGER NOT NULL DEFAULT 0,
        unsubscribes INTEGER NOT NULL DEFAULT 0,
        opens INTEGER,                  -- NULL when open tracking was off
        unique_opens INTEGER,
        clicks INTEGER,                 -- NULL when click tracking was off
        unique_clicks INTEGER,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (issue, day)
    );
    """,
)
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


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time: executescript() would commit the
    transaction a migration runs in."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


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
        fetch, send or subscribe create a missing one (`create`); the others refuse."""
        path = Path(path)
        if not create and not path.exists():
            raise StateError(
                f"no state database at {path}",
                "check --db / DIGEST_DB (or state.db in feeds.yaml); digest fetch creates it",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            store = cls(db, path)
            store.migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        return store

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
        with self.transaction() as db:
            current = self.version
            if current > len(MIGRATIONS):
                raise StateError(
                    f"{self.path} has schema version {current}, newer than this digest knows "
                    f"({len(MIGRATIONS)})",
                    "upgrade digest, or point --db at another file",
                )
            for script in MIGRATIONS[current:]:
                for statement in _statements(script):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error. A failure of the machine (full
        disk, read-only file) becomes a StateError naming the file; nothing is half-written."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:  # SQLite itself rolls back after some failures
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                hint = ENVIRONMENT_FAILURES.get(exc.sqlite_errorcode & 0xFF)
                if hint is not None:
                    message = f"cannot write the state database {self.path}: {exc}"
                    raise StateError(message, hint) from None
            raise

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
