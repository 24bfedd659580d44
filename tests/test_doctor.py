"""`digest doctor` against the fake SendGrid and feeds on a loopback server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from digest.core.models import Issue
from digest.core.store import Store
from digest.delivery.ledger import Ledger
from digest.delivery.message import FrozenEmail
from digest.ops.checklist import Check, lines
from tests.fake_sendgrid import FakeSendGrid
from tests.samples import NOW, cli, rss
from tests.server import Reply

WEEKNOTE = b"""<html><head><title>Weeknote 48</title></head><body><article>
<h1>Weeknote 48</h1><p>A busy week.</p>
<h2>Health inequalities</h2>
<ul><li><a href="https://research.example/access">A report on access to care</a>.</li></ul>
</article></body></html>"""

FOOTER = """  postal_address: 1 High Street, Northfield
email:
  archive_url: https://community.example/digest/
  unsubscribe_group: 42
"""


def config_yaml(server, *, footer: str = FOOTER, weeknote: str = "", sending: str = "") -> str:
    weeknote = weeknote or f"weeknote:\n  url: {server.url('/weeknote.html')}\n"
    return f"""newsletter:
  title: Test digest
  website: https://community.example
  sender: Test <digest@community.example>
  reply_to: editor@community.example
themes:
  - name: Health inequalities
feeds:
  - name: Partner news
    url: {server.url("/feed.xml")}
{weeknote}state:
  db: state.db
branding:
{footer}{sending}"""


def record_send(store: Store, issue_id: str, when, transport=("sendgrid", "fake")) -> None:
    issue = Issue(issue_id, "Test digest", when, when, when, "", None, None, (), (), (), ())
    ledger = Ledger(store)
    ledger.start(issue, FrozenEmail("s", "<p>h</p>", "t"), [("a@x.org", None)], 1, when, transport)
    (batch,) = ledger.batches(issue_id)
    assert ledger.accept(batch, "message-1", when)


@pytest.fixture
def site(tmp_path: Path, server, fake_sendgrid: FakeSendGrid):
    """A digest that is ready to send: feeds answer, SendGrid knows the sender and the group,
    and last week's issue went out five days ago."""
    server.routes["/feed.xml"] = Reply(200, rss(), {"Content-Type": "application/rss+xml"})
    server.routes["/weeknote.html"] = Reply(200, WEEKNOTE, {"Content-Type": "text/html"})
    path = tmp_path / "feeds.yaml"
    path.write_text(config_yaml(server), encoding="utf-8")
    with Store.open(tmp_path / "state.db") as store:
        record_send(store, "2026-W47", NOW - timedelta(days=5))
    return path


@pytest.fixture
def env(fake_sendgrid: FakeSendGrid) -> dict[str, str]:
    return {"SENDGRID_API_KEY": fake_sendgrid.api_key, "SENDGRID_API_HOST": fake_sendgrid.host}


def doctor(site: Path, env: dict[str, str], now=NOW):
    result = cli("doctor", "-c", site, "--json", env=env, now=now)
    checks = {check["name"]: check for check in json.loads(result.output)["checks"]}
    return result, checks


def failing(checks: dict) -> dict[str, str]:
    return {name: check["hint"] for name, check in checks.items() if not check["ok"]}


def test_a_ready_digest_passes_every_check(site, env, fake_sendgrid):
    result, checks = doctor(site, env)
    assert result.exit_code == 0, result.output
    assert failing(checks) == {}
    assert list(checks) == [
        "config",
        "sender",
        "reply-to",
        "unsubscribe",
        "postal address",
        "archive URL",
        "state database",
        "SENDGRID_API_KEY is set",
        "SendGrid reachable",
        "key scope mail.send",
        "sender verified",
        "unsubscribe group",
        "scopes for send --schedule and cancel",
        "scopes for stats",
        "scopes for subscribers sync",
        "feed Partner news",
        "weeknote",
        "last run",
    ]
    assert checks["feed Partner news"]["hint"] == "3 items"
    assert checks["weeknote"]["hint"] == "Weeknote 48: 1 links"
    assert "issue 2026-W47 sent" in checks["last run"]["hint"]
    assert fake_sendgrid.api_key not in result.output
    paths = {r.path for r in fake_sendgrid.requests}
    assert paths == {"/v3/scopes", "/v3/verified_senders", "/v3/asm/groups/42"}


def test_the_table_marks_each_line_and_ends_with_the_verdict(site, env):
    result = cli("doctor", "-c", site, env=env)
    assert result.exit_code == 0
    out = result.output.splitlines()
    assert out[0].startswith("ok   config ")
    assert out[-1] == "ready to send"


def test_doctor_changes_no_state(site, env, server):
    db = site.parent / "state.db"
    before = db.read_bytes()
    assert cli("doctor", "-c", site, env=env).exit_code == 0
    with Store.open(db, create=False) as store:
        assert store.sources() == []  # fetched into memory only
        assert "doctor_probe" not in str(
            store.db.execute("SELECT sql FROM sqlite_master").fetchall()
        )
    assert db.read_bytes() == before
    assert list(site.parent.glob(".digest-doctor-*")) == []


def test_missing_key_fails_and_every_sendgrid_check_says_it_could_not_run(site, env):
    result, checks = doctor(site, {**env, "SENDGRID_API_KEY": ""})
    assert result.exit_code == 1
    assert failing(checks) == {
        "SENDGRID_API_KEY is set": "export SENDGRID_API_KEY with a SendGrid API key "
        "(sending.key_env names the variable)",
        "SendGrid reachable": "not checked: no API key in SENDGRID_API_KEY",
        "key scope mail.send": "not checked: no API key in SENDGRID_API_KEY",
        "sender verified": "not checked: no API key in SENDGRID_API_KEY",
        "unsubscribe group": "not checked: no API key in SENDGRID_API_KEY",
        "scopes for send --schedule and cancel": "not checked: no API key in SENDGRID_API_KEY",
        "scopes for stats": "not checked: no API key in SENDGRID_API_KEY",
        "scopes for subscribers sync": "not checked: no API key in SENDGRID_API_KEY",
    }


def test_a_refused_key_fails_reachability_with_the_key_hint(site, env):
    result, checks = doctor(site, {**env, "SENDGRID_API_KEY": "SG.wrong"})
    assert result.exit_code == 1
    assert "HTTP 401" in checks["SendGrid reachable"]["hint"]
    assert "check the API key" in checks["SendGrid reachable"]["hint"]
    assert checks["sender verified"]["hint"] == "not checked: SendGrid did not answer"


def test_a_key_without_mail_send(site, env, fake_sendgrid):
    fake_sendgrid.scopes.remove("mail.send")
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert list(failing(checks)) == ["key scope mail.send"]
    assert "Mail Send permission" in checks["key scope mail.send"]["hint"]


def test_an_unverified_sender_without_an_authenticated_domain(site, env, fake_sendgrid):
    fake_sendgrid.verified_senders.clear()
    fake_sendgrid.unverified_senders.add("digest@community.example")
    fake_sendgrid.authenticated_domains["community.example"] = False  # DNS not valid yet
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert failing(checks) == {
        "sender verified": "digest@community.example is not a verified sender and "
        "community.example is not an authenticated domain (looked up: verified senders and "
        "authenticated domains): verify one in SendGrid (Settings → Sender Authentication)"
    }


def test_an_authenticated_domain_is_enough(site, env, fake_sendgrid):
    fake_sendgrid.verified_senders.clear()
    fake_sendgrid.authenticated_domains["community.example"] = True
    result, checks = doctor(site, env)
    assert result.exit_code == 0
    assert checks["sender verified"]["hint"] == "community.example is an authenticated domain"


def test_a_missing_unsubscribe_group(site, env, fake_sendgrid):
    fake_sendgrid.asm_groups.clear()
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert list(failing(checks)) == ["unsubscribe group"]
    hint = checks["unsubscribe group"]["hint"]
    assert hint.startswith("group 42 does not exist: create it in SendGrid")
    assert "fix email.unsubscribe_group" in hint


def test_footer_settings_missing(site, env, server):
    site.write_text(config_yaml(server, footer="  footer_text: hello\n"), encoding="utf-8")
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    hints = failing(checks)
    assert list(hints) == ["unsubscribe", "postal address", "archive URL"]
    assert hints["postal address"].startswith("set branding.postal_address")
    assert hints["archive URL"].startswith("set email.archive_url")
    assert hints["unsubscribe"].startswith("set email.unsubscribe_group")
    assert checks["unsubscribe group"]["skipped"] is True


def test_unwritable_state(site, env):
    # SQLite cannot create its write-ahead log where a folder has taken its name: the state
    # cannot be written, even by root (for whom file permissions do not stop a write).
    (site.parent / "state.db-wal").mkdir()
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert "state database" in failing(checks)
    assert str(site.parent / "state.db") in checks["state database"]["hint"]
    assert checks["last run"]["hint"].startswith("not checked: the state database")


def test_a_feed_that_404s(site, env, server):
    server.routes["/feed.xml"] = Reply(404, b"gone away")
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert failing(checks) == {
        "feed Partner news": "HTTP 404 Not Found: no feed at this URL: check it in feeds.yaml"
    }


def test_no_weeknote_post_matches_the_rule(site, env, server):
    server.routes["/blog.xml"] = Reply(200, rss(), {"Content-Type": "application/rss+xml"})
    rule = f"weeknote:\n  feed: {server.url('/blog.xml')}\n  title_pattern: Weeknote\n"
    site.write_text(config_yaml(server, weeknote=rule), encoding="utf-8")
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    hint = failing(checks)["weeknote"]
    assert hint.startswith(
        f"no post in {server.url('/blog.xml')} since 2026-11-20 00:00"
    )  # the send less 12 h
    assert "weeknote.title_pattern" in hint


def test_the_weeknote_rule_finds_a_post(site, env, server):
    server.routes["/blog.xml"] = Reply(200, rss(), {"Content-Type": "application/rss+xml"})
    rule = f"weeknote:\n  feed: {server.url('/blog.xml')}\n  title_pattern: story 1\n"
    site.write_text(config_yaml(server, weeknote=rule), encoding="utf-8")
    result, checks = doctor(site, env)
    assert result.exit_code == 0
    assert checks["weeknote"]["hint"] == "Story 1 (https://partner.example/news/1)"


def test_a_stale_last_run(site, env):
    result, checks = doctor(site, env, now=NOW + timedelta(days=4))  # 9 days after the send
    assert result.exit_code == 1
    hint = failing(checks)["last run"]
    assert hint.startswith("issue 2026-W47 sent 2026-11-20 12:00, 9.0 days ago")
    assert "cron or the systemd timer" in hint


def test_outbox_skips_sendgrid_with_a_line_that_says_so(site, server):
    sending = "sending:\n  transport: outbox\n"
    site.write_text(config_yaml(server, sending=sending), encoding="utf-8")
    result, checks = doctor(site, {"SENDGRID_API_KEY": ""})
    assert result.exit_code == 0
    assert checks["SendGrid"] == {
        "name": "SendGrid",
        "ok": True,
        "hint": "skipped: sending.transport is outbox (messages go to a folder; nothing is "
        "emailed)",
        "skipped": True,
    }
    assert "SENDGRID_API_KEY is set" not in checks


def test_an_invalid_config_is_one_failing_line(tmp_path, env):
    path = tmp_path / "feeds.yaml"
    path.write_text("newsletter: {}\n", encoding="utf-8")
    result, checks = doctor(path, env)
    assert result.exit_code == 1
    assert list(checks) == ["config"]
    assert "run digest check" in checks["config"]["hint"]


def test_plain_and_unicode_marks():
    checks = [Check("a", True, "fine"), Check("bb", False, "fix"), Check("c", True, "n/a", True)]
    assert lines(checks, unicode=False) == [
        "ok   a   fine",
        "FAIL bb  fix",
        "skip c   n/a",
        "not ready: 1 checks failed",
    ]
    assert lines(checks, unicode=True)[:2] == ["✓ a   fine", "✗ bb  fix"]


# Restricted keys: what a plain send needs is enough to be ready


def test_a_key_with_only_mail_send_is_ready_and_names_what_each_feature_lacks(
    site, env, fake_sendgrid
):
    fake_sendgrid.scopes = ["mail.send"]
    result, checks = doctor(site, env)
    assert result.exit_code == 0, result.output
    assert checks["key scope mail.send"]["ok"] is True
    for name in ("sender verified", "unsubscribe group"):
        assert checks[name]["skipped"] is True and checks[name]["hint"].startswith("not checked")
    assert "sender_verification_eligible" in checks["sender verified"]["hint"]
    assert "asm.groups.read" in checks["unsubscribe group"]["hint"]
    assert checks["scopes for send --schedule and cancel"]["hint"] == (
        "missing mail.batch.create, user.scheduled_sends.read, user.scheduled_sends.create, "
        "user.scheduled_sends.update: digest send --schedule and cancel would be refused; "
        "grant them to the key in SendGrid (Settings → API Keys)"
    )
    assert checks["scopes for stats"]["hint"].startswith("missing categories.stats.read:")
    assert checks["scopes for subscribers sync"]["hint"].startswith(
        "missing asm.groups.suppressions.read, suppression.unsubscribes.read, "
        "suppression.bounces.read, suppression.spam_reports.read:"
    )
    assert {r.path for r in fake_sendgrid.requests} == {"/v3/scopes"}


def test_a_key_that_may_not_read_senders_is_judged_by_its_domains(site, env, fake_sendgrid):
    fake_sendgrid.scopes.remove("sender_verification_eligible")
    fake_sendgrid.verified_senders.clear()
    fake_sendgrid.authenticated_domains["community.example"] = True
    result, checks = doctor(site, env)
    assert result.exit_code == 0
    assert checks["sender verified"]["hint"] == "community.example is an authenticated domain"
    assert not fake_sendgrid.requests_to("/v3/verified_senders")


def test_senders_and_domains_are_read_through_every_page(site, env, fake_sendgrid):
    fake_sendgrid.verified_senders = {f"other{n:03d}@elsewhere.example" for n in range(250)}
    fake_sendgrid.default_page_size = 20  # SendGrid's own page when asked for none
    fake_sendgrid.authenticated_domains = {f"a{n:03d}.example": True for n in range(230)}
    fake_sendgrid.authenticated_domains["community.example"] = True  # sorts last
    result, checks = doctor(site, env)
    assert result.exit_code == 0, checks["sender verified"]
    assert checks["sender verified"]["hint"] == "community.example is an authenticated domain"
    assert len(fake_sendgrid.requests_to("/v3/verified_senders")) == 3  # 100 + 100 + 50
    assert len(fake_sendgrid.requests_to("/v3/whitelabel/domains")) == 3  # 231 domains


def test_a_group_name_with_terminal_escapes_is_shown_folded(site, env, fake_sendgrid):
    fake_sendgrid.group_names[42] = "Weekly \x1b[2Jdigest\x07"
    _, checks = doctor(site, env)
    assert checks["unsubscribe group"]["hint"] == "group 42 (Weekly [2Jdigest)"
    assert "\x1b" not in cli("doctor", "-c", site, env=env).output


def test_an_answer_that_is_not_json_is_one_failing_line(site, env, fake_sendgrid):
    fake_sendgrid.raw_answers["/v3/scopes"] = b"<html>502 Bad Gateway from a proxy</html>"
    result, checks = doctor(site, env)
    assert result.exit_code == 1
    assert checks["SendGrid reachable"]["hint"].startswith(
        "SendGrid's answer to GET /v3/scopes is not JSON ('<html>502 Bad Gateway"
    )
    assert "Traceback" not in result.output
