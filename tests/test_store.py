import sqlite3

import pytest

from digest.errors import StateError
from digest.models import Source
from digest.store import MIGRATIONS, Store
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

    from digest.feeds import parse_feed
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
