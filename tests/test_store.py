import os
import sqlite3
import subprocess
import sys
import time

import pytest

from digest.core.errors import StateError
from digest.core.migrations import MIGRATIONS
from digest.core.models import Source
from digest.core.store import Store
from digest.sources.feeds import parse_feed
from tests.samples import NOW


def test_new_database_is_migrated_and_in_wal_mode(tmp_path):
    with Store.open(tmp_path / "nested" / "state.db") as store:
        assert store.version == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / "nested" / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "items"} <= tables


def test_reopening_does_not_migrate_again(tmp_path):
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        store.record_error(Source("k", "Partner", "https://p.example/"), "boom", NOW)
    with Store.open(path) as store:
        assert store.sources()[0]["last_error"] == "boom"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "state.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StateError, match="newer than this digest knows"):
        Store.open(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="cannot open the state database"):
        Store.open(path)


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    with Store.open(tmp_path / "state.db") as store:
        with pytest.raises(RuntimeError), store.transaction() as db:
            db.execute("INSERT INTO sources (key, name, url) VALUES ('k', 'n', 'u')")
            raise RuntimeError("crash half-way")
        assert store.sources() == []


def test_items_upsert_counts_new_and_keeps_first_seen_date_for_dateless_items(tmp_path):
    from datetime import timedelta

    from tests.samples import rss

    source = Source("k", "Partner", "https://partner.example/feed")
    dateless = rss(2).replace(b"<pubDate>", b"<!--").replace(b"</pubDate>", b"-->")
    items = parse_feed(dateless, source.url, source.key, None, NOW).items
    with Store.open(tmp_path / "state.db") as store:
        assert store.record_items(source, items, "h1", None, None, "new", NOW) == (2, 2)
        later = NOW + timedelta(days=2)
        assert store.record_items(source, items, "h2", None, None, "new", later) == (2, 0)
        rows = store.items("k")
        assert {row["published"] for row in rows} == {NOW.isoformat()}
        assert {row["updated"] for row in rows} == {later.isoformat()}
        assert store.sources()[0]["item_count"] == 2


CREATOR = """
import os, sys
from digest.core.store import Store
os.write(int(sys.argv[2]), b"r")  # imported: about to open
Store.open(sys.argv[1]).close()
"""


@pytest.fixture
def busy_machine():
    """Two processes per CPU spinning for the whole test, so that creators are scheduled out
    in the middle of what they do, as on a loaded server."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(2 * (os.cpu_count() or 1))
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.mark.realclock  # the creators pause between tries with time.sleep, which libfaketime breaks
def test_fifty_processes_creating_one_database_on_a_busy_machine_all_succeed(
    tmp_path, busy_machine
):
    """The file's first page is being written (as by a creator switching it to WAL) when fifty
    creators reach it: SQLite answers them "database is locked" without waiting, so each must
    wait and try again rather than fail."""
    path = tmp_path / "state.db"
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("BEGIN IMMEDIATE")
    first.execute("CREATE TABLE first_page (x)")
    ready, ready_signal = os.pipe()
    creators = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(path), str(ready_signal)],
            pass_fds=(ready_signal,),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(50)
    ]
    os.close(ready_signal)
    arrived = b""
    while len(arrived) < len(creators):
        arrived += os.read(ready, len(creators))
    os.close(ready)
    time.sleep(1)  # they are all at the lock now
    first.execute("ROLLBACK")
    first.close()
    # No timeout: waiting with one sleeps, which libfaketime breaks (.ci/faketime).
    outcomes = [(creator.communicate()[1], creator.returncode) for creator in creators]
    failures = [error for error, code in outcomes if code]
    assert failures == []
    with Store.open(path, create=False) as store:
        assert store.version == len(MIGRATIONS)


def test_a_full_disk_is_a_state_error_naming_the_file_and_nothing_is_half_written(tmp_path):
    from tests.samples import rss

    source = Source("k", "Partner", "https://partner.example/feed")
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
        items = parse_feed(rss(200), source.url, source.key, None, NOW).items
        with pytest.raises(StateError) as full:
            store.record_items(source, items, "h1", None, None, "new", NOW)
        assert full.value.message.startswith(f"cannot write the state database {path}:")
        assert full.value.hint.startswith("the disk is full")
        assert store.items() == [] and store.sources() == []
        store.db.execute(f"PRAGMA max_page_count = {pages * 100}")  # space again
        assert store.record_items(source, items, "h1", None, None, "new", NOW) == (200, 200)


def test_a_missing_database_is_created_only_when_asked(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(StateError) as missing:
        Store.open(path, create=False)
    assert missing.value.message == f"no state database at {path}"
    assert not path.exists()
    Store.open(path).close()
    Store.open(path, create=False).close()


def test_a_page_keeps_the_content_type_it_was_served_with(tmp_path):
    source = Source(
        "https://community.example/weeknote", "Weeknote", "https://community.example/weeknote"
    )
    with Store.open(tmp_path / "state.db") as store:
        assert store.page(source.key) is None
        store.record_page(
            source,
            b"<p>week 48</p>",
            "h1",
            None,
            None,
            "new",
            NOW,
            content_type="text/html; charset=windows-1252",
        )
        assert store.page(source.key) == (b"<p>week 48</p>", "text/html; charset=windows-1252")
        # the next body, read from a local file, has none
        store.record_page(
            source, b"<p>week 49</p>", "h2", None, None, "new", NOW, content_type=None
        )
    with Store.open(tmp_path / "state.db") as store:
        page = store.page(source.key)
    assert page.body == b"<p>week 49</p>" and page.content_type is None
