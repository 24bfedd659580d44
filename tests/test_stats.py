"""`digest stats`: SendGrid's category statistics per sent issue, stored and shown."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.settings import Tracking
from digest.core.store import Store
from digest.ops.stats import Figures, IssueStats, parse, sparkline, table
from tests.fake_sendgrid import FakeSendGrid
from tests.samples import NOW, cli, config_text
from tests.test_doctor import record_send

TRACKING = "sending:\n  tracking:\n    opens: true\n    clicks: true\n"


@pytest.fixture
def site(tmp_path: Path, fake_sendgrid: FakeSendGrid) -> Path:
    """Two issues sent through SendGrid (and one to the outbox), with SendGrid's counts."""
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([], extra=TRACKING), encoding="utf-8")
    with Store.open(tmp_path / "state.db") as store:
        record_send(store, "2026-W46", NOW - timedelta(days=12))
        record_send(store, "2026-W47", NOW - timedelta(days=5))
        record_send(store, "2026-W48", NOW, transport=("outbox", "outbox"))
    add = fake_sendgrid.add_category_stats
    add("2026-W46", "2026-11-13", requests=100, delivered=98, bounces=2, unique_opens=40, opens=55)
    add("2026-W46", "2026-11-14", unique_opens=9, opens=12, clicks=7, unique_clicks=5)
    add("2026-W47", "2026-11-20", requests=100, delivered=95, blocks=3, spam_reports=1)
    add("2026-W47", "2026-11-21", unsubscribes=2, unique_opens=60, opens=70, unique_clicks=19)
    return path


@pytest.fixture
def env(fake_sendgrid: FakeSendGrid) -> dict[str, str]:
    return {"SENDGRID_API_KEY": fake_sendgrid.api_key, "SENDGRID_API_HOST": fake_sendgrid.host}


def stored(site: Path) -> list[tuple]:
    with Store.open(site.parent / "state.db", create=False) as store:
        rows = store.db.execute(
            "SELECT issue, day, requests, delivered, unique_opens, unique_clicks FROM issue_stats"
            " WHERE requests + coalesce(unique_opens, 0) > 0 ORDER BY issue, day"
        )
        return [tuple(row) for row in rows]


def test_stats_are_fetched_stored_and_shown(site, env, fake_sendgrid):
    result = cli("stats", "-c", site, env=env)
    assert result.exit_code == 0, result.output
    requests = fake_sendgrid.requests_to("/v3/categories/stats")
    assert [r.query for r in requests] == [
        {
            "categories": ["2026-W46"],
            "start_date": ["2026-11-13"],
            "end_date": ["2026-11-25"],
            "aggregated_by": ["day"],
        },
        {
            "categories": ["2026-W47"],
            "start_date": ["2026-11-20"],
            "end_date": ["2026-11-25"],
            "aggregated_by": ["day"],
        },
    ]  # the outbox's issue is not asked for
    assert stored(site) == [
        ("2026-W46", "2026-11-13", 100, 98, 40, 0),
        ("2026-W46", "2026-11-14", 0, 0, 9, 5),
        ("2026-W47", "2026-11-20", 100, 95, 0, 0),
        ("2026-W47", "2026-11-21", 0, 0, 60, 19),
    ]
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "issue", "sent", "requests", "delivered", "bounces", "blocks", "spam", "unsubs",
        "opens", "unique", "clicks", "unique", "deliv", "%", "open", "%", "click", "%",
    ]  # fmt: skip
    assert lines[1].split() == [
        "2026-W46", "2026-11-13", "100", "98", "2", "0", "0", "0",
        "67", "49", "7", "5", "98.0%", "50.0%", "5.1%",
    ]  # fmt: skip
    assert lines[2].split()[0] == "2026-W47"
    assert lines[2].split()[-3:] == ["95.0%", "63.2%", "20.0%"]


def test_the_trend_is_plain_figures_when_piped(site, env):
    result = cli("stats", "-c", site, env=env)
    trend = result.output.splitlines()[3:]
    assert trend == [
        "trend, oldest to newest (2 issues):",
        "  delivered % 98.0% 95.0%",
        "  open %      50.0% 63.2%",
        "  click %     5.1% 20.0%",
    ]


def test_sparkline_scales_between_the_extremes():
    assert sparkline([0.1, 0.5, None, 0.3]) == "▁█ ▄  10.0% → 30.0%"
    assert sparkline([None, None]) == "—"
    assert sparkline([0.4, 0.4]) == "▁▁  40.0% → 40.0%"


def test_a_terminal_gets_sparklines():
    stats = [
        IssueStats(f"2026-W4{n}", "2026-11-01T00:00:00+00:00", {"d": Figures(10, n)}, "x")
        for n in range(1, 4)
    ]
    lines = table(stats, terminal=True)
    assert lines[-3] == "  delivered % ▁▅█  10.0% → 30.0%"
    assert lines[-2] == "  open %      —"


def test_offline_shows_what_is_stored_and_asks_nothing(site, env, fake_sendgrid):
    assert cli("stats", "-c", site, env=env).exit_code == 0
    fake_sendgrid.clear()
    fake_sendgrid.category_stats.clear()
    result = cli("stats", "-c", site, "--offline", "--json", env={})
    assert result.exit_code == 0, result.output
    assert fake_sendgrid.requests == []
    issues = json.loads(result.output)["issues"]
    assert [i["issue"] for i in issues] == ["2026-W46", "2026-W47"]
    assert issues[1]["total"]["delivered"] == 95
    assert issues[1]["rates"]["click"] == pytest.approx(19 / 95)
    assert issues[1]["days"]["2026-11-21"]["unique_opens"] == 60


def test_one_issue_fetches_only_that_one(site, env, fake_sendgrid):
    result = cli("stats", "-c", site, "2026-W47", env=env)
    assert result.exit_code == 0, result.output
    queries = [r.query["categories"] for r in fake_sendgrid.requests_to("/v3/categories/stats")]
    assert queries == [["2026-W47"]]
    assert "never fetched: 2026-W46" in result.output


def test_an_issue_not_sent_through_sendgrid(site, env):
    result = cli("stats", "-c", site, "2026-W48", env=env)
    assert result.exit_code == 1
    assert "Error: issue 2026-W48 was not sent through SendGrid" in result.output


def test_tracking_off_shows_a_dash_not_zero(site, env):
    site.write_text(config_text([]), encoding="utf-8")
    result = cli("stats", "-c", site, env=env)
    assert result.exit_code == 0
    row = result.output.splitlines()[1].split()
    assert row[8:12] == ["—", "—", "—", "—"]
    assert row[-2:] == ["—", "—"]
    assert stored(site)[0] == ("2026-W46", "2026-11-13", 100, 98, None, None)


def test_a_refused_key_is_one_error_and_keeps_what_was_stored(site, env):
    assert cli("stats", "-c", site, env=env).exit_code == 0
    before = stored(site)
    result = cli("stats", "-c", site, env={**env, "SENDGRID_API_KEY": "SG.wrong"})
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: GET /v3/categories/stats: SendGrid answered HTTP 401: The provided "
        "authorization grant is invalid, expired, or revoked",
        "Hint: check the API key in the environment variable named by sending.key_env; what "
        "was stored before is kept (digest stats --offline shows it)",
    ]
    assert stored(site) == before


def test_rate_limited_and_server_errors_are_one_line(site, env, fake_sendgrid):
    for status in (429, 503):
        fake_sendgrid.api_faults["/v3/categories/stats"] = status
        result = cli("stats", "-c", site, env=env)
        assert result.exit_code == 1
        error, hint = result.output.splitlines()
        assert error.startswith(f"Error: GET /v3/categories/stats: HTTP {status}")
        assert hint.startswith("Hint: SendGrid is busy or out of reach: try again in a few")


def test_a_stats_answer_of_another_shape_is_an_error():
    with pytest.raises(Exception, match="are not a list"):
        parse({"errors": []}, "2026-W47", Tracking())
    days = parse([{"date": "2026-11-20", "stats": [{"name": "other"}]}], "2026-W47", Tracking())
    assert days == {}


def test_a_send_records_its_category_and_stats_asks_for_that_one(tmp_path, fake_sendgrid):
    from tests.test_send import invoke, subscribe, write_site

    site = write_site(tmp_path)
    subscribe(load_config(site), 2)
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 0
    (accepted,) = fake_sendgrid.accepted
    assert accepted.body["categories"] == ["digest:test-digest:2026-W48", "digest"]
    assert invoke(fake_sendgrid, "stats", "-c", site).exit_code == 0
    (asked,) = fake_sendgrid.requests_to("/v3/categories/stats")
    assert asked.query["categories"] == ["digest:test-digest:2026-W48"]
