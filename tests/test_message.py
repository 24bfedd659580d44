"""The mail/send request body, and the outbox transport that writes it to disk."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from datetime import UTC, datetime

import pytest

from digest.config import Config, EmailSettings, Newsletter, Sending, Theme, Tracking
from digest.message import FrozenEmail, Options, categories, mail_body, one_line
from digest.transports import (
    MissingKey,
    OutboxError,
    OutboxTransport,
    SendGridTransport,
    make_transport,
)

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
    assert body["categories"] == ["2026-W48", "digest"]
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


def test_one_click_unsubscribe_headers_name_the_recipient():
    settings = config(
        one_click_url="https://community.example/unsubscribe?who={email}",
        unsubscribe_mailto="Unsubscribe <leave@community.example>",
    )
    body = mail_body(CONTENT, [("a+b@example.org", None)], settings, "2026-W48", 1)
    headers = body["personalizations"][0]["headers"]
    assert headers == {
        "List-Unsubscribe": "<mailto:leave@community.example?subject=unsubscribe>, "
        "<https://community.example/unsubscribe?who=a%2Bb%40example.org>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


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
    assert not list((tmp_path / "outbox").glob("*.partial"))


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
