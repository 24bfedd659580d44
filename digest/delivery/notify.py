"""Telling the editor: one short message to notify.email when a send fails, is held or stops
early, saying what happened and what to run, through the send's own transport. A message that
cannot go becomes a warning line; it never hides the failure it was about, whose exit status
cron and systemd still see."""

from __future__ import annotations

import html
import socket
from datetime import datetime

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.message import address, categories, issue_category, one_line
from digest.delivery.transports import Ambiguous, RejectedRecipients, Retryable


class NobodyToTell(DigestError):
    """digest notify was asked to tell someone, and notify.email names nobody."""

    exit_code = 2


def notice_body(config: Config, subject: str, lines: list[str], issue_id: str) -> dict:
    """The mail/send request of one notice to notify.email: plain text, no tracking, under
    its own category so that no issue's statistics count it."""
    text = "\n\n".join(lines) + "\n"
    return {
        "personalizations": [{"to": [address(config.notify.email)]}],
        "from": address(config.newsletter.sender),
        "subject": one_line(f"digest: {subject}"),
        "content": [
            {"type": "text/plain", "value": text},
            {"type": "text/html", "value": f"<pre>{html.escape(text)}</pre>"},
        ],
        "categories": categories(issue_category(config, "notice")),
        "custom_args": {"issue": issue_id, "batch": "notice"},
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
            "subscription_tracking": {"enable": False},
        },
    }


def notify(
    config: Config, transport, subject: str, lines: list[str], issue_id: str, now: datetime
) -> str | None:
    """Mail notify.email; None when it went (or nobody is to be told), else a line saying why
    it could not, for the command to print."""
    if not config.notify.email:
        return None
    where = f"digest on {socket.gethostname()}, {now:%Y-%m-%d %H:%M %Z}, config {config.path}"
    body = notice_body(config, subject, [*lines, f"({where})"], issue_id)
    try:
        transport.send(body)
    except (Retryable, Ambiguous) as exc:
        return f"could not tell {config.notify.email}: {exc.reason}"
    except RejectedRecipients:
        return f"could not tell {config.notify.email}: SendGrid refused the address"
    except DigestError as exc:
        return f"could not tell {config.notify.email}: {exc.message}"
    return None
