"""digest's requests to SendGrid's API beyond mail/send, as its specification describes them:
the group suppressions (no paging), scheduled sends cancelled however often asked, errors and
answers that are not JSON as one line each, the EU region and the groups_to_display limit."""

from __future__ import annotations

import sqlite3

from digest.core.config import load_config
from digest.delivery.connect import REGION_HOSTS, sendgrid_transport
from tests.samples import NOW, cli
from tests.test_send import invoke, subscribe, write_site


def test_sync_reads_2000_group_suppressions_in_one_request(site, fake_sendgrid):
    config = load_config(site)
    addresses = subscribe(config, 3)
    fake_sendgrid.suppress(42, addresses[0], *(f"gone{n}@example.net" for n in range(2000)))
    result = invoke(fake_sendgrid, "subscribers", "sync", "-c", site)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "unsubscribe group 42: 2001 listed, 1 marked, 0 already marked, 2000 not subscribers"
    )
    (group,) = fake_sendgrid.requests_to("/v3/asm/groups/42/suppressions")
    assert group.query == {}
    assert len(fake_sendgrid.requests) == 4  # the group, and one page of each global list


def test_an_answer_that_is_not_json_stops_sync_and_stats_with_one_line(site, fake_sendgrid):
    subscribe(load_config(site), 1)
    fake_sendgrid.raw_answers["/v3/suppression/bounces"] = b"[[[[[[" * 100_000
    sync = invoke(fake_sendgrid, "subscribers", "sync", "-c", site)
    assert sync.exit_code == 1 and "Traceback" not in sync.output
    assert sync.output.startswith("Error: SendGrid's answer to GET /v3/suppression/bounces")
    fake_sendgrid.raw_answers["/v3/categories/stats"] = b"\x1b]0;owned\x07 not json"
    invoke(fake_sendgrid, "send", "-c", site)
    stats = invoke(fake_sendgrid, "stats", "-c", site)
    assert stats.exit_code == 1 and "is not JSON" in stats.output
    assert "\x1b" not in stats.output and "\x07" not in stats.output


def scheduled(site, fake_sendgrid) -> str:
    """A send scheduled two hours on; its SendGrid batch id."""
    subscribe(load_config(site), 2)
    result = invoke(fake_sendgrid, "send", "-c", site, "--schedule", "2026-11-25 14:00")
    assert result.exit_code == 0, result.output
    return fake_sendgrid.accepted[0].body["batch_id"]


def issue_status(site) -> str:
    db = sqlite3.connect(load_config(site).db_path())
    return db.execute("SELECT status FROM issues").fetchone()[0]


def test_cancel_turns_a_pause_set_in_sendgrid_into_a_cancel(site, fake_sendgrid):
    batch_id = scheduled(site, fake_sendgrid)
    fake_sendgrid.scheduled_sends[batch_id] = "pause"  # paused in SendGrid's app
    cancelled = invoke(fake_sendgrid, "cancel", "-c", site, "2026-W48")
    assert cancelled.exit_code == 0, cancelled.output
    assert fake_sendgrid.scheduled_sends == {batch_id: "cancel"}
    asked = fake_sendgrid.requests_to(f"/v3/user/scheduled_sends/{batch_id}")
    assert [request.method for request in asked] == ["GET", "PATCH"]
    assert issue_status(site) == "cancelled"


def test_a_cancel_whose_answer_was_lost_is_finished_by_the_next(site, fake_sendgrid):
    batch_id = scheduled(site, fake_sendgrid)
    fake_sendgrid.scheduled_sends[batch_id] = "cancel"  # SendGrid took it; the answer was lost
    assert issue_status(site) == "sent"
    again = invoke(fake_sendgrid, "cancel", "-c", site, "2026-W48")
    assert again.exit_code == 0, again.output
    assert not fake_sendgrid.requests_to("/v3/user/scheduled_sends", "POST")
    assert issue_status(site) == "cancelled"


def test_sendgrid_failing_a_batch_id_or_a_cancel_is_one_error_and_records_nothing(
    site, fake_sendgrid
):
    subscribe(load_config(site), 2)
    fake_sendgrid.api_faults["/v3/mail/batch"] = 500
    result = invoke(fake_sendgrid, "send", "-c", site, "--schedule", "2026-11-25 14:00")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: POST /v3/mail/batch: HTTP 500")
    assert "Hint: SendGrid is busy or out of reach" in result.output
    assert not fake_sendgrid.accepted
    del fake_sendgrid.api_faults["/v3/mail/batch"]
    batch_id = scheduled_again(site, fake_sendgrid)
    fake_sendgrid.api_faults["/v3/user/scheduled_sends"] = 429
    refused = invoke(fake_sendgrid, "cancel", "-c", site, "2026-W48")
    assert refused.exit_code == 1 and "HTTP 429" in refused.output
    assert issue_status(site) == "sent" and batch_id not in fake_sendgrid.cancelled_batches


def scheduled_again(site, fake_sendgrid) -> str:
    result = invoke(fake_sendgrid, "send", "-c", site, "--schedule", "2026-11-25 14:00")
    assert result.exit_code == 0, result.output
    return fake_sendgrid.accepted[-1].body["batch_id"]


def test_the_eu_region_is_its_own_host_and_the_variable_still_wins(tmp_path):
    config = load_config(write_site(tmp_path, "  region: eu\n"))
    key = {"SENDGRID_API_KEY": "SG.some-key"}
    assert sendgrid_transport(config, lambda: NOW, key).host == "https://api.eu.sendgrid.com"
    assert REGION_HOSTS["global"] == "https://api.sendgrid.com"
    local = {**key, "SENDGRID_API_HOST": "http://127.0.0.1:9"}
    assert sendgrid_transport(config, lambda: NOW, local).host == "http://127.0.0.1:9"


def test_check_refuses_more_groups_to_display_than_sendgrid_allows(tmp_path):
    groups = ", ".join(str(n) for n in range(1, 27))
    site = write_site(tmp_path, f"  groups_to_display: [{groups}]\n")
    result = cli("check", "-c", site)
    assert result.exit_code == 2
    assert "sending.groups_to_display" in result.output
    assert "at most 25 groups, SendGrid's limit" in result.output
