"""The editor approves, then cron sends exactly that: approvals, holds, a stale weeknote and
drops that stay dropped, through the command line with the outbox transport and a real ledger."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from digest.core.config import load_config
from tests.samples import NOW, cli
from tests.test_send import WEEKNOTE, subscribe, use_outbox, write_site

NEXT_WEEK = NOW + timedelta(days=7)


def site_with(tmp_path, sending: str = "", weeknote: str = ""):
    site = write_site(tmp_path, sending)
    use_outbox(site)
    if weeknote:
        text = site.read_text().replace("weeknote:\n  url: weeknote.html\n", weeknote)
        site.write_text(text)
    subscribe(load_config(site), 2)
    assert cli("fetch", "-c", site).exit_code == 0  # what the editor previews and approves
    return site


def sent_html(outbox) -> str:
    """The HTML part of the request the outbox kept."""
    (request,) = [json.loads(p.read_text()) for p in outbox.glob("*.json")]
    return request["content"][1]["value"]


def ledger_count(site) -> int:
    db = sqlite3.connect(load_config(site).db_path())
    return db.execute("SELECT count(*) FROM issues").fetchone()[0]


def test_send_sends_the_approved_copy_byte_for_byte_after_a_feed_changes(tmp_path):
    site = site_with(tmp_path)
    approved = cli("approve", "-c", site, "--by", "Ed")
    assert approved.exit_code == 0, approved.output
    assert "approved issue 2026-W48" in approved.output and "sha256" in approved.output
    db = sqlite3.connect(load_config(site).db_path())
    (html,) = db.execute("SELECT html FROM approvals").fetchone()
    feed = tmp_path / "feed.xml"  # a partner posts after the editor approved
    extra = "<item><title>Video late news</title><link>https://partner.example/late</link></item>"
    feed.write_text(feed.read_text().replace("</channel>", extra + "</channel>"))
    sent = cli("send", "-c", site)
    assert sent.exit_code == 0, sent.output
    assert sent_html(tmp_path / "outbox") == html
    assert "partner.example/late" not in html


def test_with_approval_required_an_unapproved_send_holds_and_says_how_to_go_on(tmp_path):
    site = site_with(tmp_path, "  approval: required\n")
    dry = cli("send", "-c", site, "--dry-run")
    assert dry.exit_code == 4 and "is held: nothing is approved" in dry.output
    held = cli("send", "-c", site)
    assert held.exit_code == 4
    assert "digest approve --issue 2026-W48" in held.output
    assert ledger_count(site) == 0 and not list((tmp_path / "outbox").glob("*"))
    status = json.loads(cli("status", "-c", site, "--json").output)
    assert status == [
        {
            "issue": "2026-W48",
            "status": "held",
            "subject": None,
            "held": {"reason": status[0]["held"]["reason"], "at": NOW.isoformat()},
            "approval": None,
        }
    ]
    assert cli("approve", "-c", site, "--by", "Ed").exit_code == 0
    (entry,) = json.loads(cli("status", "-c", site, "--json").output)
    assert entry["status"] == "approved" and entry["approval"]["by"] == "Ed"
    assert len(entry["approval"]["hash"]) == 64
    assert cli("send", "-c", site).exit_code == 0
    assert ledger_count(site) == 1


def test_revoke_takes_the_approval_back_until_the_send_starts(tmp_path):
    site = site_with(tmp_path, "  approval: required\n")
    assert cli("approve", "-c", site).exit_code == 0
    revoked = cli("approve", "-c", site, "--revoke")
    assert revoked.exit_code == 0 and "revoked the approval of issue 2026-W48" in revoked.output
    assert cli("send", "-c", site).exit_code == 4
    assert cli("approve", "-c", site).exit_code == 0
    assert cli("send", "-c", site).exit_code == 0
    too_late = cli("approve", "-c", site, "--revoke")
    assert too_late.exit_code == 1 and "its send is sent" in too_late.output


def test_an_issue_with_nothing_to_send_is_not_approved(tmp_path):
    site = write_site(tmp_path)
    subscribe(load_config(site), 2)  # and nothing fetched yet: the issue is empty
    refused = cli("approve", "-c", site)
    assert refused.exit_code == 1
    assert "has 0 items, fewer than sending.min_items (1)" in refused.output
    assert "run digest fetch" in refused.output
    db = sqlite3.connect(load_config(site).db_path())
    assert db.execute("SELECT count(*) FROM approvals").fetchone() == (0,)


def test_status_shows_this_weeks_draft(tmp_path):
    site = site_with(tmp_path)
    table = cli("status", "-c", site).output.splitlines()
    assert table[1].split()[:2] == ["2026-W48", "draft"] and "not approved yet" in table[1]


# A new weeknote, or none


def two_weeks(tmp_path, stale: str):
    """Week 48 sent with the weeknote; week 49 built with the very same page."""
    rule = f"weeknote:\n  url: weeknote.html\n  stale: {stale}\n"
    site = site_with(tmp_path, weeknote=rule)
    assert cli("send", "-c", site).exit_code == 0
    for old in (tmp_path / "outbox").glob("*"):
        old.unlink()
    return site


def test_last_weeks_weeknote_holds_the_next_send(tmp_path):
    site = two_weeks(tmp_path, "hold")
    built = cli("build", "-c", site, now=NEXT_WEEK)
    assert "the same weeknote was sent in issue 2026-W48" in built.output
    held = cli("send", "-c", site, now=NEXT_WEEK)
    assert held.exit_code == 4 and "its weeknote is the one sent in issue 2026-W48" in held.output
    assert not list((tmp_path / "outbox").glob("*"))


def test_send_without_leaves_the_old_editorial_out(tmp_path):
    site = two_weeks(tmp_path, "send-without")
    feed = tmp_path / "feed.xml"  # one new story this week: the issue is not empty
    feed.write_text(feed.read_text().replace("partner.example/0", "partner.example/new"))
    sent = cli("send", "-c", site, now=NEXT_WEEK)
    assert sent.exit_code == 0, sent.output
    editorial = "A short week, but a busy one"
    assert editorial in WEEKNOTE and editorial not in sent_html(tmp_path / "outbox")


def test_a_dropped_item_stays_dropped_in_later_weeks(tmp_path):
    site = site_with(tmp_path)
    (tmp_path / "overrides.yaml").write_text(
        "2026-W48:\n  items:\n    - url: https://partner.example/1\n      drop: true\n"
    )
    this_week = json.loads(cli("build", "-c", site, "--json").output)
    next_week = json.loads(cli("build", "-c", site, "--json", now=NEXT_WEEK).output)
    for issue in (this_week, next_week):
        urls = [i["url"] for t in issue["themes"] for i in (*t["items"], *t["more"])]
        assert "https://partner.example/1" not in urls and "https://partner.example/0" in urls
    assert not any("partner.example/1" in w for w in next_week["warnings"])


def test_a_held_send_tells_the_editor(tmp_path):
    site = site_with(tmp_path, "  approval: required\n")
    site.write_text(site.read_text() + "notify:\n  email: editor@community.example\n")
    assert cli("send", "-c", site).exit_code == 4
    (notice,) = (tmp_path / "outbox").glob("*.eml")
    text = notice.read_text()
    assert "Subject: digest: issue 2026-W48 is held" in text and "digest approve" in text
