"""Bad luck during a send, against the fake SendGrid and a real ledger: a refusal after an
unanswered batch, a cancel after a dropped answer, a process killed mid-request, a lock taken
over while the send was paused, and a SendGrid that is down. Every reader gets one copy at most,
and exactly one once the operator has settled what the ledger says is unknown."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from digest.core.config import load_config
from digest.core.store import Store
from digest.delivery.ledger import Ledger
from digest.delivery.lock import LockLost, SendInProgress, send_lock
from digest.delivery.send import Sender
from digest.delivery.subscribers import Subscribers
from digest.delivery.transports import Ambiguous, Retryable, SendGridTransport
from digest.pipeline import fetch_sources
from digest.publish.preview import make_preview
from tests.samples import NOW
from tests.samples import cli as invoke_cli
from tests.test_send import invoke, subscribe, write_site

ISSUE = "2026-W48"


def statuses(config) -> dict[int, str]:
    db = sqlite3.connect(config.db_path())
    return dict(db.execute("SELECT number, status FROM send_batches"))


def in_process(config, fake, store, clock=lambda: NOW, **sender):
    """A Sender over the real SendGrid client, and the build a send calls."""
    transport = SendGridTransport(fake.api_key, fake.host, 1.0, clock=clock)  # as write_site's
    fetch_sources(config, store, NOW)
    build = lambda issue: make_preview(config, store, NOW, issue, None)  # noqa: E731
    return Sender(config, Ledger(store), transport, clock, lambda seconds: None, **sender), build


def test_a_refusal_after_an_unanswered_batch_keeps_the_send_and_mails_nobody_twice(
    tmp_path, fake_sendgrid
):
    # one batch after the other, so that the faults meet the batches in their order
    site = write_site(tmp_path, "  batch_size: 100\n  parallel: 1\n")
    config = load_config(site)
    addresses = subscribe(config, 200)
    fake_sendgrid.fail_next("drop_after", "400")  # batch 1 arrives unanswered, batch 2 refused
    refused = invoke(fake_sendgrid, "send", "-c", site)
    assert refused.exit_code == 2, refused.output
    assert "SendGrid answered HTTP 400" in refused.output
    assert "batches 1 unknown (sent, but no answer came)" in refused.output
    assert statuses(config) == {1: "unknown", 2: "failed"}
    cron = invoke(fake_sendgrid, "send", "-c", site)  # next week's cron, nobody has looked
    assert cron.exit_code == 1 and "batches 1 unknown" in cron.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)
    settled = invoke(fake_sendgrid, "send", "-c", site, "--resume", "--accept-batch", "1")
    assert settled.exit_code == 0 and "sent: 200 recipients in 2 batches" in settled.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


def test_a_send_refused_outright_is_forgotten_and_rebuilt(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 2)
    fake_sendgrid.fail_next("400")
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 2
    db = sqlite3.connect(config.db_path())
    assert db.execute("SELECT count(*) FROM issues").fetchone() == (0,)


def test_cancel_after_a_dropped_answer_says_the_batch_may_have_arrived(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 2)
    fake_sendgrid.fail_next("drop_after")
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 1
    cancel = invoke(fake_sendgrid, "cancel", "-c", site, ISSUE)
    assert cancel.exit_code == 1
    assert "cannot be forgotten: batches 1 may have been delivered" in cancel.output
    assert "--accept-batch N" in cancel.output and "nothing was delivered" not in cancel.output
    assert statuses(config) == {1: "unknown"}
    again = invoke(fake_sendgrid, "send", "-c", site)
    assert again.exit_code == 1 and len(fake_sendgrid.accepted) == 1


def test_cancel_forgets_a_send_whose_every_batch_was_refused_or_never_sent(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 1\n  stop_after: 1\n")
    config = load_config(site)
    subscribe(config, 3)
    fake_sendgrid.fail_next("503")
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 1
    # batches go out in parallel: whichever reached SendGrid first was refused
    assert sorted(statuses(config).values()) == ["failed", "pending", "pending"]
    cancel = invoke(fake_sendgrid, "cancel", "-c", site, ISSUE)
    assert cancel.exit_code == 0, cancel.output
    assert "SendGrid accepted none of its 3 batches" in cancel.output
    assert statuses(config) == {}


class Wrapped:
    """A transport around the real one: what it does not say differently, the real one does."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)


class KilledAfterSending(Wrapped):
    """The process dies (here: KeyboardInterrupt) once its request is out."""

    def send(self, body):
        self.inner.send(body)
        raise KeyboardInterrupt


def test_retry_unknown_sends_again_only_batches_a_run_has_reported(site, fake_sendgrid):
    config = load_config(site)
    addresses = subscribe(config, 2)
    with Store.open(config.db_path()) as store:
        sender, build = in_process(config, fake_sendgrid, store)
        sender.transport = KilledAfterSending(sender.transport)
        with pytest.raises(KeyboardInterrupt):
            sender.send_issue(ISSUE, build, Subscribers(store).active)
    assert statuses(config) == {1: "in_flight"}
    first = invoke(fake_sendgrid, "send", "-c", site, "--resume", "--retry-unknown")
    assert first.exit_code == 1 and "batches 1 unknown" in first.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1), "sent unseen"
    # The operator has now been told, looked, and found nothing: sending it again is theirs.
    fake_sendgrid.accepted.clear()
    second = invoke(fake_sendgrid, "send", "-c", site, "--resume", "--retry-unknown")
    assert second.exit_code == 0 and fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


class TakenOverAfterFirstBatch(Wrapped):
    """After the first batch the send is paused for 16 minutes, and another send takes the
    lock over (and is done with it): what a suspended laptop or Ctrl-Z makes of a send."""

    def __init__(self, inner, config, later):
        super().__init__(inner)
        self.config, self.later, self.taken = config, later, False

    def send(self, body):
        accepted = self.inner.send(body)
        if not self.taken:
            self.taken = True
            with (
                Store.open(self.config.db_path()) as other,
                send_lock(other, lambda: self.later, wait=0),
            ):
                pass
        return accepted


def test_a_send_that_lost_its_lock_stops_before_its_next_request(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 10\n")
    config = load_config(site)
    addresses = subscribe(config, 30)
    later = NOW + timedelta(minutes=16)
    with Store.open(config.db_path()) as store, send_lock(store, lambda: NOW) as lock:
        sender, build = in_process(config, fake_sendgrid, store, lock=lock)
        sender.transport = TakenOverAfterFirstBatch(sender.transport, config, later)
        with pytest.raises(LockLost, match="took over the send lock"):
            sender.send_issue(ISSUE, build, Subscribers(store).active)
    # the first request goes alone, whichever worker's batch it carries; none follows it
    assert sorted(statuses(config).values()) == ["accepted", "pending", "pending"]
    assert len(fake_sendgrid.accepted) == 1
    finished = invoke(fake_sendgrid, "send", "-c", site, now=later)
    assert finished.exit_code == 0, finished.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


def test_the_lock_is_not_taken_from_a_live_send_and_tokens_never_repeat(site):
    config = load_config(site)
    with Store.open(config.db_path()) as store:
        with (
            send_lock(store, lambda: NOW) as first,
            pytest.raises(SendInProgress, match="another digest send is in progress"),
            send_lock(store, lambda: NOW, wait=0),
        ):
            pass
        with send_lock(store, lambda: NOW) as second:
            assert second.token == first.token + 1


def test_a_sendgrid_answering_503_stops_the_send_after_three_requests(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 10\n")
    config = load_config(site)
    addresses = subscribe(config, 100)
    fake_sendgrid.fail_randomly(rate=1.0, kinds=("503",))
    stopped = invoke(fake_sendgrid, "send", "-c", site)
    assert stopped.exit_code == 1
    assert "stopped: HTTP 503: fake fault: HTTP 503, 3 times in a row" in stopped.output
    assert fake_sendgrid.mail_send_count == 3
    assert set(statuses(config).values()) == {"failed", "pending"}
    fake_sendgrid.faults = None
    resumed = invoke(fake_sendgrid, "send", "-c", site)
    assert resumed.exit_code == 0, resumed.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


def test_a_sendgrid_that_never_answers_costs_three_batches_not_all(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 10\n")
    config = load_config(site)
    subscribe(config, 100)
    fake_sendgrid.fail_randomly(rate=1.0, kinds=("slow",))
    stopped = invoke(fake_sendgrid, "send", "-c", site)
    assert stopped.exit_code == 1 and "3 times in a row" in stopped.output
    assert fake_sendgrid.mail_send_count == 3
    unknown = sorted(n for n, status in statuses(config).items() if status == "unknown")
    assert len(unknown) == 3 and Counter(statuses(config).values()) == {"unknown": 3, "pending": 7}
    assert f"batches {', '.join(map(str, unknown))} unknown" in stopped.output


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ("503", Retryable),
        ("408", Retryable),
        ("429", Retryable),
        ("500", Ambiguous),
        ("502", Ambiguous),
        ("504", Ambiguous),
        ("drop_after", Ambiguous),
    ],
)
def test_what_each_answer_lets_a_retry_do(fake_sendgrid, site, fault, failure):
    """503, 408 and 429 say the request was not handled; the specification promises nothing
    about a 500, and a gateway's 502 or 504 may follow an upstream that took it."""
    from digest.delivery.message import FrozenEmail, mail_body

    config = load_config(site)
    body = mail_body(FrozenEmail("S", "<p>h</p>", "t"), [("a@example.org", None)], config, "x", 1)
    transport = SendGridTransport(fake_sendgrid.api_key, fake_sendgrid.host, 0.5, clock=lambda: NOW)
    fake_sendgrid.fail_next(fault)
    with pytest.raises(failure):
        transport.send(body)


def test_one_address_sendgrid_refuses_is_taken_out_and_everyone_else_is_mailed(
    tmp_path, fake_sendgrid
):
    site = write_site(tmp_path, "  batch_size: 100\n")
    config = load_config(site)
    addresses = subscribe(config, 300)
    bad = "reader00049@example.c"  # from a list imported before addresses were checked
    db = sqlite3.connect(config.db_path())
    with db:
        db.execute(
            "INSERT INTO subscribers (email, status, created, updated) VALUES (?, 'active', ?, ?)",
            (bad, NOW.isoformat(), NOW.isoformat()),
        )
    result = invoke(fake_sendgrid, "send", "-c", site)
    assert result.exit_code == 0, result.output
    assert "sent: 300 recipients in 4 batches" in result.output
    assert "SendGrid refused 1 address, now marked rejected" in result.output
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)
    rejected = invoke(fake_sendgrid, "subscribers", "list", "--status", "rejected", "-c", site)
    assert rejected.output.splitlines()[1].split()[:3] == [bad, "rejected", "send"]
    (issue,) = json.loads(invoke(fake_sendgrid, "status", "-c", site, "--json").output)
    (refused,) = [r for batch in issue["batches"] for r in batch["rejected"]]
    assert refused["email"] == bad and "Does not contain a valid address" in refused["reason"]
    table = invoke(fake_sendgrid, "status", "-c", site).output
    assert re.search(r"sent .* 4/4 +300 +1 +sendgrid", table), table


def test_a_refusal_of_an_address_and_of_something_else_refuses_the_whole_send(site, fake_sendgrid):
    config = load_config(site)
    subscribe(config, 2)
    config_text = site.read_text().replace("  unsubscribe_group: 42\n", "  unsubscribe_group: 7\n")
    site.write_text(config_text)  # a group SendGrid does not have: the request is wrong too
    db = sqlite3.connect(config.db_path())
    with db:
        db.execute(
            "INSERT INTO subscribers (email, status, created, updated) VALUES (?, 'active', ?, ?)",
            ("x@example.c", NOW.isoformat(), NOW.isoformat()),
        )
    refused = invoke(fake_sendgrid, "send", "-c", site)
    assert refused.exit_code == 2 and "personalizations.2.to.0.email" in refused.output
    assert "asm.group_id" in refused.output and not fake_sendgrid.accepted


def test_subscribers_add_refuses_an_address_with_no_real_top_level_domain(site):
    result = invoke_cli("subscribers", "add", "x@example.c", "-c", site)
    assert result.exit_code == 2
    assert "there is no top-level domain .c" in result.output


# Someone hears about it: notify.email


def editor_notices(fake) -> list[dict]:
    return [a.body for a in fake.accepted if a.body["custom_args"].get("batch") == "notice"]


def test_a_send_that_sendgrid_stops_tells_the_editor_what_to_run(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 10\n")
    site.write_text(site.read_text() + "notify:\n  email: Editor <editor@community.example>\n")
    config = load_config(site)
    subscribe(config, 100)
    fake_sendgrid.fail_next("503", "503", "503")  # down for the send, back for the notice
    stopped = invoke(fake_sendgrid, "send", "-c", site)
    assert stopped.exit_code == 1 and "3 times in a row" in stopped.output
    (notice,) = editor_notices(fake_sendgrid)
    assert notice["personalizations"] == [
        {"to": [{"email": "editor@community.example", "name": "Editor"}]}
    ]
    assert notice["subject"] == "digest: issue 2026-W48 was not completely sent"
    text = notice["content"][0]["value"]
    assert "stopped: HTTP 503" in text and "run digest send again once SendGrid answers" in text
    assert f"digest status --config {site}" in text
    assert notice["categories"] == ["digest:test-digest:notice"]
    assert set(statuses(config).values()) == {"failed", "pending"}  # resumable


def test_a_refused_send_tells_the_editor_and_a_notice_that_cannot_go_is_a_warning(
    tmp_path, fake_sendgrid
):
    site = write_site(tmp_path, "  require_weeknote: true\n", weeknote="https://127.0.0.1:9/w")
    site.write_text(site.read_text() + "notify:\n  email: editor@community.example\n")
    subscribe(load_config(site), 1)
    refused = invoke(fake_sendgrid, "send", "-c", site)
    assert refused.exit_code == 1 and "the weeknote could not be fetched" in refused.output
    (notice,) = editor_notices(fake_sendgrid)
    assert notice["subject"] == "digest: issue 2026-W48 was not sent"
    assert "What to do: fix the weeknote source" in notice["content"][0]["value"]
    fake_sendgrid.fail_randomly(rate=1.0, kinds=("503",))
    again = invoke(fake_sendgrid, "send", "-c", site)
    assert again.exit_code == 1
    assert "Warning: could not tell editor@community.example: HTTP 503" in again.output


def test_a_send_against_a_sendgrid_answering_503_stops_within_a_minute(tmp_path, fake_sendgrid):
    config = load_config(write_site(tmp_path, "  batch_size: 1000\n"))
    subscribe(config, 5000)
    fake_sendgrid.fail_randomly(rate=1.0, kinds=("503",))
    waits: list[float] = []
    with Store.open(config.db_path()) as store:
        sender, build = in_process(config, fake_sendgrid, store)
        sender.sleep = waits.append
        result = sender.send_issue(ISSUE, build, Subscribers(store).active)
    assert not result.complete and result.stopped.endswith("3 times in a row")
    assert fake_sendgrid.mail_send_count == 3 and sum(waits) < 60
    assert set(statuses(config).values()) == {"failed", "pending"}


def test_digest_notify_tells_the_editor_through_the_outbox(tmp_path):
    site = write_site(tmp_path, "  transport: outbox\n")
    no_one = invoke_cli("notify", "-c", site, "the weekly send failed")
    assert no_one.exit_code == 2 and "notify.email is not set" in no_one.output
    site.write_text(site.read_text() + "notify:\n  email: editor@community.example\n")
    told = invoke_cli("notify", "-c", site, "the weekly send failed")
    assert told.exit_code == 0 and told.output == "told editor@community.example\n"
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = eml.read_text()
    assert "To: editor@community.example" in message
    assert "Subject: digest: the weekly send failed" in message


# Batches side by side (sending.parallel)


class Counting(Wrapped):
    """Counts the requests under way at once; each takes a moment."""

    def __init__(self, inner):
        super().__init__(inner)
        self.guard, self.now, self.most = threading.Lock(), 0, 0

    def send(self, body):
        with self.guard:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)
            return self.inner.send(body)
        finally:
            with self.guard:
                self.now -= 1


@pytest.mark.realclock  # its requests sleep for real, which libfaketime breaks
@pytest.mark.parametrize("parallel", [1, 4])
def test_batches_go_side_by_side_and_everyone_gets_one_copy(tmp_path, fake_sendgrid, parallel):
    config = load_config(write_site(tmp_path, f"  batch_size: 10\n  parallel: {parallel}\n"))
    addresses = subscribe(config, 200)
    with Store.open(config.db_path()) as store:
        sender, build = in_process(config, fake_sendgrid, store)
        sender.transport = counting = Counting(sender.transport)
        result = sender.send_issue(ISSUE, build, Subscribers(store).active)
    assert result.outcome == "sent" and counting.most == parallel
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


class RateLimitedOnce(Wrapped):
    """SendGrid's first answer is a rate limit; no request may go while it is waited out."""

    def __init__(self, inner):
        super().__init__(inner)
        self.limited, self.pausing, self.during_pause = False, threading.Event(), 0

    def send(self, body):
        if not self.limited:
            self.limited = True
            raise Retryable("HTTP 429 rate limited", wait=5, rate_limited=True)
        self.during_pause += self.pausing.is_set()
        return self.inner.send(body)

    def sleep(self, seconds: float) -> None:
        self.pausing.set()
        time.sleep(0.3)  # long enough for another worker to try, were it let through
        self.pausing.clear()


@pytest.mark.realclock  # the rate limit is waited out for real, which libfaketime breaks
def test_a_rate_limit_one_batch_meets_holds_every_worker(tmp_path, fake_sendgrid):
    config = load_config(write_site(tmp_path, "  batch_size: 10\n  parallel: 4\n"))
    addresses = subscribe(config, 100)
    with Store.open(config.db_path()) as store:
        sender, build = in_process(config, fake_sendgrid, store)
        sender.transport = limited = RateLimitedOnce(sender.transport)
        sender.sleep = limited.sleep
        result = sender.send_issue(ISSUE, build, Subscribers(store).active)
    assert result.outcome == "sent" and limited.during_pause == 0
    assert fake_sendgrid.deliveries() == dict.fromkeys(addresses, 1)


def test_a_batch_is_on_the_disk_before_its_request_and_its_acceptance_rides_on_the_next(
    tmp_path, fake_sendgrid, monkeypatch
):
    """Each batch costs one flush to the disk, before its request: the acceptance is committed
    unflushed (a power cut leaves the batch in_flight, so unknown: never sent again)."""
    site = write_site(tmp_path, "  batch_size: 100\n  parallel: 2\n")
    config = load_config(site)
    subscribe(config, 300)
    flushed: list[tuple[str, bool]] = []  # (the batch's new status, flushed) per commit

    class Traced(Store):
        @classmethod
        def open(cls, path):
            store = Store.open(path)
            state = {"flush": True, "status": None}

            def trace(sql: str) -> None:
                if sql.startswith("PRAGMA synchronous"):
                    state["flush"] = sql.endswith("FULL")
                elif found := re.match(r"UPDATE send_batches SET status = '(\w+)'", sql):
                    state["status"] = found[1]
                elif sql == "COMMIT" and state["status"]:
                    flushed.append((state["status"], state["flush"]))
                    state["status"] = None

            store.db.set_trace_callback(trace)
            return store

    monkeypatch.setattr("digest.delivery.batch.Store", Traced)
    with Store.open(config.db_path()) as store:
        sender, build = in_process(config, fake_sendgrid, store)
        result = sender.send_issue(ISSUE, build, Subscribers(store).active)
        (synchronous,) = store.db.execute("PRAGMA synchronous").fetchone()
    assert result.complete and len(fake_sendgrid.deliveries()) == 300
    assert sorted(flushed) == [("accepted", False)] * 3 + [("in_flight", True)] * 3
    assert synchronous == 2  # FULL again for whatever this connection writes next
