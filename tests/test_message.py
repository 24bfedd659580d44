"""The mail/send request body, and the outbox transport that writes it to disk."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import re
from datetime import UTC, datetime

import pytest

from digest.core.settings import Config, EmailSettings, Newsletter, Sending, Theme, Tracking
from digest.delivery.connect import MissingKey, make_transport
from digest.delivery.message import (
    FrozenEmail,
    Options,
    categories,
    issue_category,
    mail_body,
    one_line,
)
from digest.delivery.outbox import OutboxError, OutboxTransport
from digest.delivery.transports import SendGridTransport
from digest.delivery.unsubscribe import MissingSecret, read_token, signing_keys

CONTENT = FrozenEmail("Digest: 25 November 2026", "<html><body><p>Hi</p></body></html>", "Hi")
PEOPLE = [("ann@example.org", "Ann Example"), ("bob@example.org", None)]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def config(**sending) -> Config:
    return Config(
        newsletter=Newsletter(
            title="Digest",
            website="https://community.example",
            sender="Community Digest <digest@community.example>",
            reply_to="hello@community.example",
        ),
        themes=(Theme("Health"),),
        sending=Sending(**sending),
    )


def test_one_personalization_per_recipient_text_before_html():
    body = mail_body(CONTENT, PEOPLE, config(), "2026-W48", 3)
    assert body["personalizations"] == [
        {"to": [{"email": "ann@example.org", "name": "Ann Example"}]},
        {"to": [{"email": "bob@example.org"}]},
    ]
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert body["from"] == {"email": "digest@community.example", "name": "Community Digest"}
    assert body["reply_to"] == {"email": "hello@community.example"}
    assert body["subject"] == CONTENT.subject
    assert body["categories"] == ["digest:digest:2026-W48", "digest"]
    assert body["custom_args"] == {"issue": "2026-W48", "batch": "3"}
    assert body["tracking_settings"]["subscription_tracking"] == {"enable": False}
    assert "asm" not in body and "mail_settings" not in body and "send_at" not in body


def test_asm_group_sandbox_schedule_and_tracking():
    settings = config(groups_to_display=(7, 8), tracking=Tracking(clicks=True, opens=True))
    settings = dataclasses.replace(settings, email=EmailSettings(unsubscribe_group=7))
    when = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    options = Options(sandbox=True, send_at=when, batch_id="b-1", subject_prefix="[TEST] ")
    body = mail_body(CONTENT, PEOPLE, settings, "2026-W48", 1, options)
    assert body["asm"] == {"group_id": 7, "groups_to_display": [7, 8]}
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert body["send_at"] == int(when.timestamp()) and body["batch_id"] == "b-1"
    assert body["subject"] == "[TEST] " + CONTENT.subject
    tracking = body["tracking_settings"]
    assert tracking["click_tracking"]["enable"] is True and tracking["open_tracking"]["enable"]


SECRET_ENV = {"DIGEST_UNSUBSCRIBE_SECRET": "a-long-test-secret-0123456789"}
ONE_CLICK = "https://community.example/unsubscribe/{token}"
MAILTO = "Unsubscribe <leave@community.example>"


def unsubscribe_config(group=None, page=None, **sending) -> Config:
    settings = config(**sending)
    return dataclasses.replace(
        settings, email=EmailSettings(unsubscribe_group=group, unsubscribe_url=page)
    )


def headers_for(settings: Config, address: str = "a+b@example.org") -> dict:
    body = mail_body(CONTENT, [(address, None)], settings, "2026-W48", 1, environ=SECRET_ENV)
    return body["personalizations"][0].get("headers", {})


def test_one_click_url_carries_a_signed_token_not_the_address():
    headers = headers_for(unsubscribe_config(one_click_url=ONE_CLICK, unsubscribe_mailto=MAILTO))
    link, mailto = headers["List-Unsubscribe"].split(", ")
    token = link.removeprefix("<https://community.example/unsubscribe/").removesuffix(">")
    assert "@" not in link and "%40" not in link
    keys = signing_keys(unsubscribe_config(), SECRET_ENV)
    assert read_token(token, keys) == "a+b@example.org"
    assert mailto == "<mailto:leave@community.example?subject=unsubscribe>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # SendGrid writes List-Unsubscribe for the group itself: ours would be a second one.
        (unsubscribe_config(group=7, one_click_url=ONE_CLICK, unsubscribe_mailto=MAILTO), {}),
        (
            unsubscribe_config(page="https://community.example/leave", unsubscribe_mailto=MAILTO),
            {
                "List-Unsubscribe": "<https://community.example/leave>, "
                "<mailto:leave@community.example?subject=unsubscribe>"
            },
        ),
        (
            unsubscribe_config(unsubscribe_mailto=MAILTO),
            {"List-Unsubscribe": "<mailto:leave@community.example?subject=unsubscribe>"},
        ),
        (unsubscribe_config(), {}),
    ],
    ids=["group", "page-and-mailto", "mailto-only", "none"],
)
def test_unsubscribe_headers_per_configuration(settings, expected):
    assert headers_for(settings) == expected


def test_one_click_post_header_only_for_https_with_a_token():
    plain_http = headers_for(unsubscribe_config(one_click_url="http://community.example/u/{token}"))
    assert plain_http["List-Unsubscribe"].startswith("<http://community.example/u/")
    assert "List-Unsubscribe-Post" not in plain_http
    # A URL without {token} cannot say who is leaving (feeds.yaml refuses it): the page is used.
    untokened = unsubscribe_config(
        one_click_url="https://community.example/u", page="https://community.example/leave"
    )
    assert headers_for(untokened) == {"List-Unsubscribe": "<https://community.example/leave>"}


def test_a_token_url_without_the_secret_is_an_error_naming_the_variable():
    settings = unsubscribe_config(one_click_url=ONE_CLICK)
    with pytest.raises(MissingSecret) as raised:
        mail_body(CONTENT, PEOPLE, settings, "2026-W48", 1, environ={})
    assert "DIGEST_UNSUBSCRIBE_SECRET" in raised.value.message


def test_outbox_writes_list_unsubscribe_as_plain_ascii(tmp_path):
    settings = unsubscribe_config(one_click_url=ONE_CLICK, unsubscribe_mailto=MAILTO)
    body = mail_body(CONTENT, PEOPLE, settings, "2026-W48", 1, environ=SECRET_ENV)
    OutboxTransport(tmp_path).send(body)
    raw = sorted(tmp_path.glob("*.eml"))[0].read_bytes()
    head = raw.split(b"\r\n\r\n")[0].decode("ascii")
    written = re.search(r"\r\nList-Unsubscribe: (.*?)\r\n(?! )", head, re.S).group(1)
    assert written.startswith("<https://community.example/unsubscribe/") and "=?" not in written
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["List-Unsubscribe"] == body["personalizations"][0]["headers"]["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    secret = SECRET_ENV["DIGEST_UNSUBSCRIBE_SECRET"].encode()
    assert not [path for path in tmp_path.iterdir() if secret in path.read_bytes()]


@pytest.mark.parametrize(
    "subject",
    [
        "Digest: 25 November 2026",
        "",
        "Community Digest: " + "x" * 30 + " —    and Community    November 25",
        "émoji 🎉 — November 2026 Community Digest: and Health émoji 🎉 and " + "x" * 30,
    ],
)
def test_outbox_subject_round_trips_with_no_empty_encoded_word(tmp_path, subject):
    content = dataclasses.replace(CONTENT, subject=subject)
    OutboxTransport(tmp_path).send(mail_body(content, PEOPLE, config(), "2026-W48", 1))
    raw = sorted(tmp_path.glob("*.eml"))[0].read_bytes()
    assert b"?q??=" not in raw and b"?b??=" not in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == subject


def test_header_injection_and_hostile_names_are_neutralised():
    hostile = FrozenEmail("Hello\r\nBcc: victim@example.org", "<p>x</p>", "x")
    body = mail_body(hostile, [("a@example.org", "Evil;, Name\r\nX: y")], config(), "2026-W48", 1)
    assert body["subject"] == "Hello Bcc: victim@example.org"
    assert body["personalizations"][0]["to"][0]["name"] == "Evil   Name X: y"
    assert one_line("a\n\rb") == "a b"


def test_categories_are_ascii_unique_and_short():
    assert categories("2026-W48", "digest") == ["2026-W48", "digest"]
    assert categories("2026-W48", "2026-W48") == ["2026-W48"]
    assert categories("2026-W48", "café " + "x" * 300) == ["2026-W48", ("caf " + "x" * 300)[:255]]
    assert categories("2026-W48", "ü") == ["2026-W48"]


def test_each_newsletter_counts_its_issues_under_its_own_category():
    assert issue_category(config(), "2026-W48") == "digest:digest:2026-W48"
    other = dataclasses.replace(config(), newsletter=Newsletter("Care & Quality Weekly", "", ""))
    assert issue_category(other, "2026-W48") == "digest:care-and-quality-weekly:2026-W48"
    named = config(list_id="Team News")
    assert issue_category(named, "2026-W48") == "digest:team-news:2026-W48"
    resumed = mail_body(CONTENT, PEOPLE, named, "2026-W48", 1, Options(category="2026-W48"))
    assert resumed["categories"] == ["2026-W48", "digest"]  # a send started before categories


def test_outbox_writes_the_request_and_one_eml_per_recipient(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")
    body = mail_body(CONTENT, PEOPLE, config(), "2026-W48", 2)
    accepted = outbox.send(body)
    assert accepted.message_id.startswith("outbox-2026-W48-batch2-")
    (request,) = (tmp_path / "outbox").glob("*.json")
    assert json.loads(request.read_text(encoding="utf-8")) == body
    emls = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == 2
    message = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "Ann Example <ann@example.org>"
    assert message["From"] == "Community Digest <digest@community.example>"
    assert message["Subject"] == CONTENT.subject
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert len(list((tmp_path / "outbox").iterdir())) == 3  # no temporary file is left


def test_the_transport_is_the_one_feeds_yaml_names_and_never_a_silent_outbox(tmp_path):
    settings = dataclasses.replace(config(), path=tmp_path / "feeds.yaml")
    key = {"SENDGRID_API_KEY": "SG.x.y", "SENDGRID_API_HOST": "http://127.0.0.1:9"}
    with pytest.raises(MissingKey) as missing:
        make_transport(settings, clock, environ={})
    assert missing.value.message == "SENDGRID_API_KEY is not set"
    assert missing.value.exit_code == 2 and "sending.transport: outbox" in missing.value.hint
    sendgrid = make_transport(settings, clock, environ=key)
    assert isinstance(sendgrid, SendGridTransport) and sendgrid.host == "http://127.0.0.1:9"
    assert "SG.x.y" not in repr(vars(sendgrid))
    outbox_config = dataclasses.replace(
        settings, sending=dataclasses.replace(settings.sending, transport="outbox")
    )
    outbox = make_transport(outbox_config, clock, environ=key)
    assert isinstance(outbox, OutboxTransport) and outbox.folder == tmp_path / "outbox"
    rehearsal = make_transport(settings, clock, outbox=tmp_path / "rehearsal", environ={})
    assert isinstance(rehearsal, OutboxTransport) and rehearsal.folder == tmp_path / "rehearsal"


def test_an_outbox_that_cannot_be_written_leaves_nothing_half_written(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be", encoding="utf-8")
    blocked = OutboxTransport(tmp_path / "taken" / "outbox")
    with pytest.raises(OutboxError) as error:
        blocked.send(mail_body(CONTENT, PEOPLE, config(), "2026-W48", 1))
    assert error.value.message.startswith(f"cannot write the outbox: {tmp_path / 'taken'}")
    assert "writable" in error.value.hint
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
