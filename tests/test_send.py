"""`digest send` against a fake SendGrid on 127.0.0.1, through the real `sendgrid` client and a
real SQLite ledger: exactly once per subscriber, whatever SendGrid or the process does."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import load_config
from digest.ledger import Ledger
from digest.pipeline import fetch_sources
from digest.preview import make_preview
from digest.send import Sender
from digest.store import Store
from digest.subscribers import Subscribers
from digest.transports import SendGridTransport
from tests.server import Reply

WEEKNOTE = """<html><head><title>Weeknote 48</title></head><body><article><h1>Weeknote 48</h1>
<p>A short week, but a busy one: two reports and a new video pilot to share with you all.</p>
<h2>Inequalities</h2>
<ul><li><a href="https://reports.example/gaps">The widening gaps report</a>, out now.</li>
<li><a href="https://reports.example/maps">Maps of where care is hardest to reach</a>.</li></ul>
</article></body></html>"""


def write_site(
    folder: Path, sending: str = "", weeknote: str = "weeknote.html", check_links: bool = False
) -> Path:
    """feeds.yaml with a local feed dated now and a local weeknote page; returns its path."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Video pilot {n}</title><link>https://partner.example/{n}</link>"
        f"<pubDate>{now - timedelta(hours=n + 1):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
        for n in range(3)
    )
    (folder / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>{items}</channel></rss>',
        encoding="utf-8",
    )
    (folder / "weeknote.html").write_text(WEEKNOTE, encoding="utf-8")
    path = folder / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Test digest\n  website: https://community.example\n"
        "  sender: Test digest <digest@community.example>\n"
        "themes:\n  - name: Health inequalities\n    aliases: [Inequalities]\n"
        "  - name: Video consultations\n    keywords: [video]\n"
        "feeds:\n  - name: Partner\n    url: feed.xml\n"
        f"weeknote:\n  url: {weeknote}\n"
        "branding:\n  postal_address: 1 Example Street, Northfield\n"
        "email:\n  unsubscribe_group: 42\n"
        f"sending:\n  timeout: 0.5\n  max_wait: 5\n{sending}"
        # The items link to made-up sites: checking them would leave 127.0.0.1.
        f"links:\n  before_send: {'true' if check_links else 'false'}\n  timeout: 2\n"
        "state:\n  db: state.db\n",
        encoding="utf-8",
    )
    return path


def subscribe(config, count: int) -> list[str]:
    """`count` active subscribers, imported from a CSV like an editor would."""
    addresses = [f"reader{n:05d}@example.org" for n in range(count)]
    csv = config.path.parent / "people.csv"
    csv.write_text("email,name\n" + "".join(f"{a},Reader {a[6:11]}\n" for a in addresses))
    with Store.open(config.db_path()) as store:
        report = Subscribers(store).import_csv(csv, datetime.now(UTC))
    assert report.imported == count
    return addresses


def invoke(fake, *args, key: str | None = None):
    env = {"SENDGRID_API_KEY": key or fake.api_key, "SENDGRID_API_HOST": fake.host}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def batch_numbers(fake) -> list[int]:
    return sorted(int(a.body["custom_args"]["batch"]) for a in fake.accepted)


@pytest.fixture
def site(tmp_path) -> Path:
    return write_site(tmp_path)


def test_send_reaches_every_subscriber_once_and_a_second_run_sends_nothing(site, fake_sendgrid):
    config = load_config(site)
    addresses = subscribe(config, 3)
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 0, result.output
    assert "sent: 3 recipients in 1 batches" in result.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)
    (request,) = fake_sendgrid.accepted
    body = request.body
    assert [p["to"][0]["email"] for p in body["personalizations"]] == addresses
    assert body["asm"] == {"group_id": 42}
    assert "<%asm_group_unsubscribe_raw_url%>" in body["content"][1]["value"]
    assert "<%asm_group_unsubscribe_raw_url%>" in body["content"][0]["value"]
    again = invoke(fake_sendgrid, "send", "-c", site)
    assert again.exit_code == 0 and "was already sent on" in again.output
    assert len(fake_sendgrid.accepted) == 1
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT status FROM issues").fetchall() == [("sent",)]
    sent_urls = {row[0] for row in db.execute("SELECT canonical_url FROM issue_items")}
    assert "https://reports.example/gaps" in sent_urls and "https://partner.example/0" in sent_urls


def test_exactly_once_for_10000_subscribers_through_random_faults(tmp_path, fake_sendgrid):
    config = load_config(write_site(tmp_path, "  batch_size: 100\n  max_attempts: 3\n"))
    addresses = subscribe(config, 10_000)
    fake_sendgrid.slow_seconds = 1.0
    fake_sendgrid.fail_randomly(rate=0.2, seed=7)
    transport = SendGridTransport(fake_sendgrid.api_key, fake_sendgrid.host, timeout=0.3)
    waits: list[float] = []
    runs, accepted_by_hand = 0, set()
    with Store.open(config.db_path()) as store:
        sender = Sender(config, Ledger(store), transport, lambda: datetime.now(UTC), waits.append)
        people = Subscribers(store).active
        fetch_sources(config, store, datetime.now(UTC))
        build = lambda: make_preview(config, store, datetime.now(UTC), None, None)  # noqa: E731
        result = sender.send_issue("2026-W48", build, people)
        while not result.complete:
            runs += 1
            assert runs < 20, result.message
            # The operator's check of SendGrid's activity feed, by custom_args batch:
            arrived = set(batch_numbers(fake_sendgrid)) & set(result.unknown)
            accepted_by_hand |= arrived
            result = sender.send_issue(
                "2026-W48", build, people, retry_unknown=True, accept_batches=frozenset(arrived)
            )
    assert result.outcome == "sent", result.message
    deliveries = fake_sendgrid.deliveries()
    assert set(deliveries) == set(addresses)
    assert set(deliveries.values()) == {1}, "somebody got the issue twice"
    kinds = {kind for _, kind in fake_sendgrid.injected}
    assert kinds >= {"429", "500", "drop_before", "drop_after", "slow"}
    assert accepted_by_hand, "some ambiguous batches had in fact arrived"
    assert waits and max(waits) <= config.sending.max_wait


def test_a_refused_send_stops_marks_nothing_and_names_the_fix(site, fake_sendgrid):
    subscribe(load_config(site), 2)
    result = invoke(
        fake_sendgrid, "send", "-c", site, key="SG.wrong-key.abcdefghijklmnopqrstuvwxyz"
    )
    assert result.exit_code == 2
    assert "SendGrid answered HTTP 401" in result.output
    assert "Hint: check the API key" in result.output
    db = sqlite3.connect(load_config(site).db_path())
    assert db.execute("SELECT count(*) FROM issues").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM send_batches").fetchone() == (0,)
    fake_sendgrid.verified_senders.clear()
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 2 and "Hint: verify the sender identity" in result.output
    fake_sendgrid.verified_senders.add("digest@community.example")
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 0
    assert set(fake_sendgrid.deliveries().values()) == {1}


def test_the_api_key_never_leaks(site, fake_sendgrid, tmp_path):
    key = fake_sendgrid.api_key
    subscribe(load_config(site), 2)
    fake_sendgrid.fail_next("500", "500", "500", "500", "500")
    failed = invoke(fake_sendgrid, "send", "-c", site)
    assert failed.exit_code == 1 and "not delivered" in failed.output
    wrong = invoke(fake_sendgrid, "--debug", "send", "-c", site, "--test", "x@example.org")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert key.encode() not in path.read_bytes(), path
    assert key not in failed.output and key not in wrong.output
    assert key not in repr(wrong.exception)


def test_test_send_touches_neither_ledger_nor_subscribers(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 2)
    result = invoke(fake_sendgrid, "send", "-c", site, "--test", "ed@example.org, Me@Example.org")
    assert result.exit_code == 0, result.output
    (request,) = fake_sendgrid.accepted
    assert request.body["subject"].startswith("[TEST] Test digest")
    assert [p["to"][0]["email"] for p in request.body["personalizations"]] == [
        "ed@example.org",
        "me@example.org",
    ]
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT count(*) FROM issues").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM subscribers").fetchone() == (2,)


def test_dry_run_and_sandbox_send_nothing(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 3)
    dry = invoke(fake_sendgrid, "send", "-c", site, "--dry-run")
    assert dry.exit_code == 0 and "Recipients: 3 in 1 batches" in dry.output
    assert fake_sendgrid.mail_send_count == 0
    sandbox = invoke(fake_sendgrid, "send", "-c", site, "--sandbox")
    assert sandbox.exit_code == 0 and "sandbox mode" in sandbox.output
    assert fake_sendgrid.mail_send_count == 1 and not fake_sendgrid.accepted
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT count(*) FROM issues").fetchone() == (0,)


def test_policies_skip_a_thin_week_and_refuse_without_a_weeknote(tmp_path, fake_sendgrid):
    thin = write_site(tmp_path, "  min_items: 50\n")
    subscribe(load_config(thin), 1)
    result = invoke(fake_sendgrid, "send", "-c", thin)
    assert result.exit_code == 0 and "fewer than sending.min_items (50)" in result.output
    missing = tmp_path / "gone"
    missing.mkdir()
    path = write_site(missing, weeknote="https://127.0.0.1:9/weeknote")
    subscribe(load_config(path), 1)
    refused = invoke(fake_sendgrid, "send", "-c", path)
    assert refused.exit_code == 1 and "the weeknote could not be fetched" in refused.output
    assert "Hint: fix the weeknote source" in refused.output and not fake_sendgrid.accepted
    forced = invoke(fake_sendgrid, "send", "-c", path, "--force")
    assert forced.exit_code == 3, forced.output  # sent, but a source failed
    assert "source Weeknote: " in forced.output
    assert len(fake_sendgrid.accepted) == 1


def test_schedule_then_cancel(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 2)
    when = datetime.now(UTC).astimezone(tz=None) + timedelta(hours=2)
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")
    result = invoke(fake_sendgrid, "send", "-c", site, "--schedule", local)
    assert result.exit_code == 0 and "scheduled for" in result.output
    (request,) = fake_sendgrid.accepted
    batch_id = request.body["batch_id"]
    assert request.body["send_at"] > datetime.now(UTC).timestamp() + 3600
    status = invoke(fake_sendgrid, "status", "-c", site, "--json")
    assert '"send_at"' in status.output and '"status": "sent"' in status.output
    issue = request.body["custom_args"]["issue"]
    cancelled = invoke(fake_sendgrid, "cancel", "-c", site, issue)
    assert cancelled.exit_code == 0 and "cancelled the send" in cancelled.output
    assert batch_id in fake_sendgrid.cancelled_batches
    too_far = invoke(fake_sendgrid, "send", "-c", site, "--schedule", "2030-01-01 08:00")
    assert too_far.exit_code == 1 and "not within the next 72 hours" in too_far.output


def test_status_lists_batches_and_message_ids(site, fake_sendgrid):
    subscribe(load_config(site), 3)
    invoke(fake_sendgrid, "send", "-c", site)
    result = invoke(fake_sendgrid, "status", "-c", site)
    (accepted,) = fake_sendgrid.accepted
    assert result.exit_code == 0 and accepted.message_id in result.output
    assert "sent" in result.output and "1/1" in result.output


def test_sync_marks_what_sendgrid_suppresses_and_the_send_skips_them(site, fake_sendgrid):
    config = load_config(site)
    a, b, c, d, e, *rest = subscribe(config, 8)
    fake_sendgrid.suppress(42, a.upper())
    for n in range(1200):  # three pages of global unsubscribes, the last one holding `b`
        fake_sendgrid.add_unsubscribe(f"stranger{n}@example.net")
    fake_sendgrid.add_unsubscribe(b)
    fake_sendgrid.add_bounce(c)
    fake_sendgrid.add_spam_report(d)
    fake_sendgrid.add_unsubscribe(d)  # complained wins over unsubscribed
    result = invoke(fake_sendgrid, "subscribers", "sync", "-c", site)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "unsubscribe group 42: 1 listed, 1 marked, 0 already marked, 0 not subscribers",
        "global unsubscribes: 1202 listed, 2 marked, 0 already marked, 1200 not subscribers",
        "bounces: 1 listed, 1 marked, 0 already marked, 0 not subscribers",
        "spam reports: 1 listed, 1 marked, 0 already marked, 0 not subscribers",
    ]
    db = sqlite3.connect(config.db_path())
    statuses = dict(db.execute("SELECT email, status FROM subscribers"))
    assert [statuses[x] for x in (a, b, c, d, e)] == [
        "unsubscribed",
        "unsubscribed",
        "bounced",
        "complained",
        "active",
    ]
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 0
    assert set(fake_sendgrid.deliveries()) == {e, *rest}


def test_sync_without_a_key_says_what_to_set(site):
    result = CliRunner().invoke(
        main, ["subscribers", "sync", "-c", str(site)], env={"SENDGRID_API_KEY": ""}
    )
    assert result.exit_code == 1
    assert (
        "syncing needs SendGrid" in result.output
        and "Hint: export SENDGRID_API_KEY" in result.output
    )


def test_no_unsubscribe_link_means_no_send(tmp_path, fake_sendgrid):
    site = write_site(tmp_path)
    site.write_text(site.read_text().replace("email:\n  unsubscribe_group: 42\n", ""))
    subscribe(load_config(site), 1)
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 1 and "no unsubscribe link" in result.output
    assert not fake_sendgrid.accepted
    assert invoke(fake_sendgrid, "send", "-c", site, "--test", "ed@example.org").exit_code == 0


def test_publish_rebuilds_the_archive_after_a_complete_send(site, fake_sendgrid):
    site.write_text(
        site.read_text().replace(
            "email:\n", "email:\n  archive_url: https://digest.community.example\n"
        )
    )
    subscribe(load_config(site), 2)
    result = invoke(fake_sendgrid, "send", "-c", site, "--publish")
    assert result.exit_code == 0, result.output
    (issue,) = (site.parent / "site" / "issues").iterdir()
    page = (issue / "index.html").read_text(encoding="utf-8")
    assert "The widening gaps report" in page and "<%asm" not in page
    assert "files written" in result.output.splitlines()[-1]


def test_too_many_broken_links_stop_the_send_unless_forced(tmp_path, server, fake_sendgrid):
    site = write_site(tmp_path, check_links=True)
    for path in ("/gaps", "/maps", "/a", "/b", "/c", "/d"):
        server.routes[path] = Reply(200, b"ok")
    server.routes["/gone"] = Reply(404, b"not here")
    items = "".join(
        f'<li><a href="{server.url(path)}">A resource worth reading, {path[1:]}</a>.</li>'
        for path in ("/a", "/b", "/c", "/d", "/gone")
    )
    page = WEEKNOTE.replace("</ul>", items + "</ul>")
    page = page.replace("https://reports.example/", server.url("/"))
    (tmp_path / "weeknote.html").write_text(page, encoding="utf-8")
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title></channel></rss>'
    )
    subscribe(load_config(site), 2)
    refused = invoke(fake_sendgrid, "send", "-c", site)
    assert refused.exit_code == 1, refused.output
    assert "1 of 7 links are broken (14%; links.max_broken_share is 10%)" in refused.output
    assert not fake_sendgrid.accepted
    forced = invoke(fake_sendgrid, "send", "-c", site, "--force")
    assert forced.exit_code == 0, forced.output
    assert set(fake_sendgrid.deliveries().values()) == {1}
