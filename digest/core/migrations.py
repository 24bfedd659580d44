"""The state database's schema, as numbered migrations: the database's PRAGMA user_version says
how many it has had, and Store.migrate applies the rest in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

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
    """
    ALTER TABLE locks ADD COLUMN token INTEGER NOT NULL DEFAULT 0;   -- fencing: one up per taking
    -- the SendGrid category of the issue's messages (digest:LIST:ISSUE); older sends: the id
    ALTER TABLE issues ADD COLUMN category TEXT;
    -- an unknown batch the operator has been told of: only those may be sent again
    ALTER TABLE send_batches ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
    -- JSON list of [email, reason]: recipients SendGrid refused, taken out of the batch
    ALTER TABLE send_batches ADD COLUMN rejected TEXT NOT NULL DEFAULT '[]';
    -- a subscriber may now be `rejected`: SendGrid refused the address. SQLite cannot change a
    -- CHECK, so the table is made again.
    CREATE TABLE subscribers_new (
        email TEXT PRIMARY KEY,         -- normalised: trimmed, lower case
        name TEXT,
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced', 'complained', 'rejected')),
        source TEXT,                    -- what last set the status: cli, import:FILE, sync, send
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    INSERT INTO subscribers_new SELECT email, name, status, source, created, updated
        FROM subscribers;
    DROP TABLE subscribers;
    ALTER TABLE subscribers_new RENAME TO subscribers;
    """,
    """
    -- A labelled link's own words apart from the context they came with, so the classifier is
    -- measured on text shaped like a feed item's (NULL in rows from before: text is all there is).
    ALTER TABLE theme_examples ADD COLUMN title TEXT;
    ALTER TABLE theme_examples ADD COLUMN context TEXT;
    CREATE TABLE theme_models (         -- the trained theme classifier, kept between builds
        fingerprint TEXT PRIMARY KEY,   -- sha256 of the examples, themes and settings learnt from
        model TEXT NOT NULL,            -- JSON: themes, bias, packed weights, threshold
        threshold REAL NOT NULL,        -- calibrated to send catch_all_share to the catch-all
        held_out INTEGER NOT NULL,      -- links the threshold was calibrated on
        trained TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE approvals (            -- an issue the editor approved: what its send sends
        issue TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        preheader TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        issue_json TEXT NOT NULL,       -- the items and the weeknote it was built from
        hash TEXT NOT NULL,             -- sha256 of subject, HTML and text
        approved_by TEXT NOT NULL,
        approved_at TEXT NOT NULL
    );
    CREATE TABLE holds (                -- a send held back by a policy: why, and when
        issue TEXT NOT NULL,
        reason TEXT NOT NULL,
        held_at TEXT NOT NULL
    );
    """,
)


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time: executescript() would commit the
    transaction a migration runs in."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
