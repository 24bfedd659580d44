"""`digest send` against a fake SendGrid on 127.0.0.1, through the real `sendgrid` client and a
real SQLite ledger: exactly once per subscriber, whatever SendGrid or the process does."""

from __future__ import annotations

import email
import http.server
import json
import re
import socket
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.store import Store
from digest.delivery.ledger import Ledger
from digest.delivery.message import FrozenEmail
from digest.delivery.send import Sender
from digest.delivery.subscribers import Subscribers
from digest.delivery.transports import SendGridTransport
from digest.pipeline import fetch_sources
from digest.publish.preview import make_preview
from tests.samples import NOW, cli
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
    """feeds.yaml with a local feed and a local weeknote page; returns its path. The feed's
    items carry no date, so they are as new as the clock of whoever fetches them: the tests
    that run digest in its own process, on the real clock, find them in the window too."""
    items = "".join(
        f"<item><title>Video pilot {n}</title><link>https://partner.example/{n}</link></item>"
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
        # Half the fake's slow answer (2 s), and room for a loaded machine's slow ones.
        f"sending:\n  timeout: 1\n  max_wait: 5\n{sending}"
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
        report = Subscribers(store).import_csv(csv, NOW)
    assert report.imported == count
    return addresses


def invoke(fake, *args, key: str | None = None, now: datetime = NOW):
    env = {"SENDGRID_API_KEY": key or fake.api_key, "SENDGRID_API_HOST": fake.host}
    return cli(*args, env=env, now=now)


def batch_numbers(fake) -> list[int]:
    return sorted(int(a.body["custom_args"]["batch"]) for a in fake.accepted)


def test_send_reaches_every_subscriber_once_and_a_second_run_sends_nothing(site, fake_sendgrid):
    config = load_config(site)
    addresses = subscribe(config, 3)
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 0, result.output
    assert "sent: 3 recipients in 1 batch" in result.output
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


def test_a_sent_issue_records_every_item_it_included_over_a_cap_too(tmp_path, fake_sendgrid):
    site = write_site(tmp_path)
    site.write_text(site.read_text() + "curation:\n  per_theme: 1\n")
    subscribe(load_config(site), 1)
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 0
    db = sqlite3.connect(tmp_path / "state.db")
    (frozen,) = db.execute("SELECT issue_json FROM issues").fetchone()
    themes = json.loads(frozen)["themes"]
    included = {(i["canonical_url"], i["theme"]) for t in themes for i in t["items"] + t["more"]}
    assert any(theme["more"] for theme in themes)
    assert set(db.execute("SELECT canonical_url, theme FROM issue_items")) == included


def test_exactly_once_for_10000_subscribers_through_random_faults(tmp_path, fake_sendgrid):
    config = load_config(write_site(tmp_path, "  batch_size: 100\n  max_attempts: 3\n"))
    addresses = subscribe(config, 10_000)
    fake_sendgrid.slow_seconds = 1.0
    fake_sendgrid.fail_randomly(rate=0.2, seed=7)
    clock = lambda: NOW  # noqa: E731
    transport = SendGridTransport(fake_sendgrid.api_key, fake_sendgrid.host, 0.3, clock=clock)
    waits: list[float] = []
    runs, accepted_by_hand = 0, set()
    with Store.open(config.db_path()) as store:
        sender = Sender(config, Ledger(store), transport, clock, waits.append)
        people = Subscribers(store).active
        fetch_sources(config, store, NOW)
        build = lambda issue: make_preview(config, store, NOW, issue, None)  # noqa: E731
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
    fake_sendgrid.fail_next("503", "503", "503", "503", "503")
    failed = invoke(fake_sendgrid, "send", "-c", site)
    assert failed.exit_code == 1 and "HTTP 503, 3 times in a row" in failed.output
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
    assert request.body["subject"].startswith("[TEST] The widening gaps report")
    assert request.body["categories"] == ["digest:test-digest:test", "digest"]
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
    assert dry.exit_code == 0 and "Recipients: 3 in 1 batch" in dry.output
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
    # NOW is 12:00 in London (GMT in November): two hours later is 14:00.
    result = invoke(fake_sendgrid, "send", "-c", site, "--schedule", "2026-11-25 14:00")
    assert result.exit_code == 0 and "scheduled for 2026-11-25T14:00:00+00:00" in result.output
    (request,) = fake_sendgrid.accepted
    batch_id = request.body["batch_id"]
    assert request.body["send_at"] == (NOW + timedelta(hours=2)).timestamp()
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


def test_status_counts_each_batchs_recipients_without_reading_the_frozen_issue(
    tmp_path, fake_sendgrid
):
    site = write_site(tmp_path, "  batch_size: 2\n")
    subscribe(load_config(site), 3)
    invoke(fake_sendgrid, "send", "-c", site)
    db = sqlite3.connect(tmp_path / "state.db")
    with db:  # status lists sends, it does not decode what each one froze
        db.execute("UPDATE issues SET issue_json = '{'")
    table = invoke(fake_sendgrid, "status", "-c", site)
    assert table.exit_code == 0, table.output
    assert re.search(r"sent .* 2/2 +3 +0 +sendgrid", table.output)
    listed = json.loads(invoke(fake_sendgrid, "status", "-c", site, "--json").output)
    assert [batch["recipients"] for batch in listed[0]["batches"]] == [2, 1]


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
    result = cli("subscribers", "sync", "-c", site, env={"SENDGRID_API_KEY": ""})
    assert result.exit_code == 2
    assert "Error: SENDGRID_API_KEY is not set" in result.output
    assert "Hint: export SENDGRID_API_KEY" in result.output


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
    # The weeknote is served from 127.0.0.1 too: only then may its links lead there.
    site = write_site(tmp_path, weeknote=server.url("/weeknote"), check_links=True)
    for path in ("/gaps", "/maps", "/a", "/b", "/c", "/d"):
        server.routes[path] = Reply(200, b"ok")
    server.routes["/gone"] = Reply(404, b"not here")
    items = "".join(
        f'<li><a href="{server.url(path)}">A resource worth reading, {path[1:]}</a>.</li>'
        for path in ("/a", "/b", "/c", "/d", "/gone")
    )
    page = WEEKNOTE.replace("</ul>", items + "</ul>")
    page = page.replace("https://reports.example/", server.url("/"))
    server.routes["/weeknote"] = Reply(200, page.encode(), {"Content-Type": "text/html"})
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title></channel></rss>'
    )
    subscribe(load_config(site), 2)
    refused = invoke(fake_sendgrid, "send", "-c", site)
    assert refused.exit_code == 1, refused.output
    assert "1 of 8 links are broken (12%; links.max_broken_share is 10%)" in refused.output
    assert not fake_sendgrid.accepted
    forced = invoke(fake_sendgrid, "send", "-c", site, "--force")
    assert forced.exit_code == 0, forced.output
    assert set(fake_sendgrid.deliveries().values()) == {1}


# The transport is explicit: SendGrid needs its key, the outbox is chosen, never fallen back to


def use_outbox(site: Path, folder: str = "outbox") -> None:
    text = site.read_text(encoding="utf-8")
    site.write_text(
        text.replace("sending:\n", f"sending:\n  transport: outbox\n  outbox: {folder}\n")
    )


def ledger_rows(config) -> tuple[int, int]:
    db = sqlite3.connect(config.db_path())
    return (
        db.execute("SELECT count(*) FROM issues").fetchone()[0],
        db.execute("SELECT count(*) FROM send_batches").fetchone()[0],
    )


@pytest.mark.parametrize(
    "command",
    [
        ("send",),
        ("send", "--test", "ed@example.org"),
        ("send", "--schedule", "2026-11-25 14:00"),
        ("send", "--dry-run"),
        ("cancel", "2026-W48"),
    ],
)
def test_without_the_key_sendgrid_sends_exit_2_before_touching_the_ledger(site, command):
    config = load_config(site)
    subscribe(config, 2)
    result = cli(*command, "-c", site, env={"SENDGRID_API_KEY": ""})
    assert result.exit_code == 2, result.output
    assert "Error: SENDGRID_API_KEY is not set" in result.output
    assert "Hint: export SENDGRID_API_KEY" in result.output
    assert ledger_rows(config) == (0, 0)
    assert not (site.parent / "outbox").exists()


def test_the_outbox_transport_is_the_delivery_and_every_line_says_where_it_went(site):
    use_outbox(site)
    config = load_config(site)
    subscribe(config, 3)
    sent = cli("send", "-c", site, env={"SENDGRID_API_KEY": ""})
    assert sent.exit_code == 0, sent.output
    folder = site.parent / "outbox"
    assert f"3 messages written to {folder}/ (nothing was emailed)" in sent.output
    assert len(list(folder.glob("*.eml"))) == 3
    assert "was already sent" in cli("send", "-c", site).output
    test = cli("send", "-c", site, "--test", "ed@example.org")
    assert f"test sent to ed@example.org: 1 message written to {folder}/" in test.output
    status = cli("status", "-c", site)
    assert "transport" in status.output.splitlines()[0]
    assert " outbox " in status.output.splitlines()[1]
    (record,) = json.loads(cli("status", "-c", site, "--json").output)
    assert (record["transport"], record["destination"]) == ("outbox", str(folder))


def test_outbox_option_rehearses_a_sendgrid_send_and_marks_nothing_sent(site, tmp_path):
    config = load_config(site)
    subscribe(config, 3)
    folder = tmp_path / "rehearsal"
    result = cli("send", "-c", site, "--outbox", folder, env={"SENDGRID_API_KEY": ""})
    assert result.exit_code == 0, result.output
    assert (
        f"rehearsal of issue 2026-W48: 3 messages written to {folder}/ (nothing was emailed); "
        "nothing was marked sent" in result.output
    )
    assert len(list(folder.glob("*.eml"))) == 3
    assert ledger_rows(config) == (0, 0)


def test_a_send_started_through_the_outbox_is_not_finished_through_sendgrid(site, fake_sendgrid):
    use_outbox(site, "taken/outbox")
    (site.parent / "taken").write_text("a file where the outbox folder should be")
    config = load_config(site)
    subscribe(config, 2)
    assert cli("send", "-c", site).exit_code == 1  # started; its batch could not be written
    site.write_text(site.read_text().replace("  transport: outbox\n", ""))
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 1 and not fake_sendgrid.accepted
    assert "was started through the outbox transport" in result.output
    assert "Hint: finish it with sending.transport: outbox" in result.output


def test_an_outbox_that_cannot_be_written_is_one_error_and_the_send_resumes(site):
    use_outbox(site, "taken/outbox")
    taken = site.parent / "taken"
    taken.write_text("a file where the outbox folder should be")
    config = load_config(site)
    addresses = subscribe(config, 5)
    failed = cli("send", "-c", site)
    assert failed.exit_code == 1 and "Traceback" not in failed.output
    error, hint = failed.output.strip().splitlines()[-2:]
    assert error == f"Error: cannot write the outbox: {taken / 'outbox'}: Not a directory"
    assert hint.startswith("Hint: free some disk space or make the folder writable")
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT status FROM issues").fetchall() == [("sending",)]
    assert db.execute("SELECT status FROM send_batches").fetchall() == [("failed",)]
    taken.unlink()
    resumed = cli("send", "-c", site)
    assert resumed.exit_code == 0, resumed.output
    recipients = [
        email.message_from_bytes(eml.read_bytes())["To"] for eml in (taken / "outbox").glob("*.eml")
    ]
    assert sorted(r.split("<")[1].rstrip(">") for r in recipients) == addresses


def test_sendgrid_out_of_reach_stops_after_a_short_streak_and_says_how_to_resume(
    tmp_path, fake_sendgrid
):
    site = write_site(tmp_path, "  batch_size: 10\n")
    config = load_config(site)
    addresses = subscribe(config, 100)
    with socket.socket() as closed:  # a port nothing listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {
        "SENDGRID_API_KEY": fake_sendgrid.api_key,
        "SENDGRID_API_HOST": f"http://127.0.0.1:{port}",
    }
    stopped = cli("send", "-c", site, env=env)
    assert stopped.exit_code == 1
    assert "0 of 10 batches accepted; stopped: could not reach SendGrid" in stopped.output
    assert "3 times in a row" in stopped.output and "run digest send again" in stopped.output
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT sum(attempts) FROM send_batches").fetchone() == (3,)
    resumed = invoke(fake_sendgrid, "send", "-c", site)
    assert resumed.exit_code == 0, resumed.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


class HostileSendGrid(http.server.ThreadingHTTPServer):
    """A SendGrid that answers with terminal escape sequences: `answers` is a list of (status,
    headers, body) for the mail/send requests, in order."""

    daemon_threads = True

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]):
        self.answers = answers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):
                handler.rfile.read(int(handler.headers["Content-Length"]))
                status, headers, body = self.answers.pop(0)
                handler.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    handler.send_header(name, value)
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


def test_control_characters_from_sendgrid_reach_neither_terminal_nor_ledger(site, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    hostile = json.dumps({"errors": [{"message": "busy \x1b]0;owned\x07 \x1b[2J", "field": None}]})
    refusal = json.dumps({"errors": [{"message": "no\x9b2J", "field": "from\x1b[31m"}]})
    busy = [(503, {}, hostile.encode())] * 3  # the second run's attempts, until it stops
    accepted = (202, {"X-Message-Id": "id\x1b[2J\x07"}, b"")
    server = HostileSendGrid([(400, {}, refusal.encode()), *busy, accepted])
    config = load_config(site)
    subscribe(config, 2)
    env = {"SENDGRID_API_KEY": "SG.test-key", "SENDGRID_API_HOST": server.host}
    db = sqlite3.connect(config.db_path())
    refused = cli("send", "-c", site, env=env).output
    failed = cli("send", "-c", site, env=env).output
    (error,) = db.execute("SELECT last_error FROM send_batches").fetchone()
    sent = cli("send", "-c", site, env=env).output
    outputs = [refused, failed, sent, cli("status", "-c", site, "--json").output]
    assert "SendGrid answered HTTP 400: from [31m: no 2J" in refused
    assert error == "HTTP 503: busy ]0;owned [2J" and "sent: 2 recipients" in sent
    for output in outputs:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", output), output
    assert db.execute("SELECT message_id FROM send_batches").fetchone() == ("id [2J",)
    server.shutdown()
    server.server_close()


# --dry-run takes the real send's decisions


def test_dry_run_of_a_thin_week_says_it_would_be_skipped(tmp_path):
    thin = write_site(tmp_path, "  min_items: 50\n")
    use_outbox(thin)
    subscribe(load_config(thin), 2)
    dry = cli("send", "-c", thin, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Decision:   issue 2026-W48 has 5 items, fewer than sending.min_items (50)" in dry.output
    assert "a new send" not in dry.output and "Nothing was sent (--dry-run)." in dry.output
    assert ledger_rows(load_config(thin)) == (0, 0)


def test_dry_run_of_a_sent_week_says_it_was_sent(site):
    use_outbox(site)
    config = load_config(site)
    subscribe(config, 2)
    assert cli("send", "-c", site).exit_code == 0
    rows = ledger_rows(config)
    dry = cli("send", "-c", site, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"Decision:   issue 2026-W48 was already sent on {NOW.isoformat()}" in dry.output
    assert "Recipients:" not in dry.output and ledger_rows(config) == rows


def test_dry_run_of_a_new_send_plans_it(site):
    use_outbox(site)
    subscribe(load_config(site), 3)
    dry = cli("send", "-c", site, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "State:      a new send" in dry.output
    assert "Decision:   issue 2026-W48 would be sent" in dry.output
    assert not (site.parent / "outbox").exists()


def test_dry_run_says_the_link_check_would_refuse_and_force_would_send(
    tmp_path, server, fake_sendgrid
):
    site = write_site(tmp_path, weeknote=server.url("/weeknote"), check_links=True)
    server.routes["/gaps"] = Reply(200, b"ok")
    server.routes["/maps"] = Reply(404, b"not here")
    page = WEEKNOTE.replace("https://reports.example/", server.url("/"))
    server.routes["/weeknote"] = Reply(200, page.encode(), {"Content-Type": "text/html"})
    # No feed items: their made-up sites would take the link check off 127.0.0.1.
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>P</title></channel></rss>'
    )
    subscribe(load_config(site), 2)
    dry = invoke(fake_sendgrid, "send", "-c", site, "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "Decision:   send would refuse: 1 of 3 links are broken (33%" in dry.output
    assert "Hint: run `digest links` to see them" in dry.output
    assert "Recipients:" not in dry.output
    forced = invoke(fake_sendgrid, "send", "-c", site, "--dry-run", "--force")
    assert forced.exit_code == 0, forced.output
    assert "Decision:   issue 2026-W48 would be sent" in forced.output
    assert fake_sendgrid.mail_send_count == 0
    assert ledger_rows(load_config(site)) == (0, 0)


def test_dry_run_of_a_weeknote_that_failed_names_the_refusal(tmp_path):
    site = write_site(tmp_path, weeknote="https://127.0.0.1:9/weeknote")
    use_outbox(site)
    subscribe(load_config(site), 1)
    dry = cli("send", "-c", site, "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "Decision:   send would refuse: the weeknote could not be fetched" in dry.output
    assert "source Weeknote: cannot connect" in dry.output


def test_dry_run_of_a_half_sent_week_says_it_would_resume(site):
    use_outbox(site)
    config = load_config(site)
    people = [(address, None) for address in subscribe(config, 3)]
    assert cli("fetch", "-c", site).exit_code == 0
    with Store.open(config.db_path()) as store:
        ledger = Ledger(store)
        issue = make_preview(config, store, NOW, None, None).issue
        outbox = ("outbox", str(site.parent / "outbox"))
        ledger.start(issue, FrozenEmail("s", "<p>h</p>", "t"), people, 1, NOW, outbox)
        ledger.accept(ledger.batches(issue.id)[0], "message-1", NOW)
    dry = cli("send", "-c", site, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Decision:   issue 2026-W48 would be resumed" in dry.output
    assert "2 batches left" in dry.output and "Recipients: 2 in 2 batches" in dry.output
    with Store.open(config.db_path()) as store:
        assert [b.status for b in Ledger(store).batches("2026-W48")] == [
            "accepted",
            "pending",
            "pending",
        ]


def test_an_email_gmail_would_clip_is_refused_unless_forced(site):
    """Moving items to the archive cannot shorten an intro: at over 102,000 bytes as Gmail gets
    the HTML the send stops before anything is recorded, says what would shrink it, and --force
    sends it clipped."""
    use_outbox(site)
    subscribe(load_config(site), 2)
    intro = " ".join(f"Word{n} of a very long note from the editor." for n in range(4000))
    (site.parent / "overrides.yaml").write_text(f"2026-W48:\n  intro: {intro}\n", encoding="utf-8")
    refused = cli("send", "-c", site)
    assert refused.exit_code == 1
    assert "as Gmail would get it, over the 102,000 at which Gmail clips it and hides the " in (
        refused.output
    )
    assert "footer's unsubscribe link and postal address" in refused.output
    assert (
        "Hint: shorten the intro or the templates, lower curation.per_theme, drop items in the "
        "overrides file, or turn off sending.tracking.clicks; or send it clipped: --force"
    ) in refused.output
    assert ledger_rows(load_config(site)) == (0, 0)
    forced = cli("send", "-c", site, "--force")
    assert forced.exit_code == 0 and "2 messages written" in forced.output, forced.output
