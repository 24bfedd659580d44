"""The v3 mail/send request for one batch of recipients.

Rules it follows (SendGrid's mail/send contract): one personalization per recipient, so nobody
sees anyone else's address; `text/plain` before `text/html`; categories at most 10, unique,
ASCII, 255 characters each; `custom_args` values are strings; names carry no `;` or `,`; header
values and the subject carry no CR or LF; `send_at` at most 72 hours ahead.
"""

from __future__ import annotations

import email.utils
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from digest.core.settings import Config
from digest.core.text import normalise_heading
from digest.delivery.unsubscribe import (
    TOKEN_PLACEHOLDER,
    TokenKeys,
    one_click_link,
    signing_keys,
)

MAX_SCHEDULE_AHEAD = timedelta(hours=72)
_LINE_BREAKS = re.compile(r"[\r\n]+")
_NAME_BREAKS = re.compile(r"[;,]|[\r\n]+")  # a separator in a name would split the To: line


@dataclass(frozen=True)
class FrozenEmail:
    """The content of an issue's email as it was when sending started."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Options:
    sandbox: bool = False
    send_at: datetime | None = None
    batch_id: str | None = None  # SendGrid's, for scheduled sends
    category: str | None = None  # the issue's, as its send recorded it; default issue_category
    subject_prefix: str = ""  # "[TEST] " for test sends


def mail_body(
    content: FrozenEmail,
    recipients: Sequence[tuple[str, str | None]],
    config: Config,
    issue_id: str,
    batch: int,
    options: Options = Options(),
    environ: Mapping[str, str] = os.environ,
) -> dict:
    """The request body for `recipients` (email, name), batch number `batch` of the issue.
    `environ` holds the secret that signs one-click unsubscribe tokens."""
    sending, secret = config.sending, unsubscribe_secret(config, environ)
    body: dict = {
        "personalizations": [
            _personalization(address, name, config, secret) for address, name in recipients
        ],
        "from": address(config.newsletter.sender),
        "subject": one_line(options.subject_prefix + content.subject),
        "content": [
            {"type": "text/plain", "value": content.text},
            {"type": "text/html", "value": content.html},
        ],
        "categories": categories(
            options.category or issue_category(config, issue_id), sending.category
        ),
        "custom_args": {"issue": issue_id, "batch": str(batch)},
        "tracking_settings": {
            "click_tracking": {"enable": sending.tracking.clicks, "enable_text": False},
            "open_tracking": {"enable": sending.tracking.opens},
            # Its own global unsubscribe link would bypass the unsubscribe group.
            "subscription_tracking": {"enable": False},
        },
    }
    if config.newsletter.reply_to:
        body["reply_to"] = address(config.newsletter.reply_to)
    if config.email.unsubscribe_group:
        body["asm"] = {"group_id": config.email.unsubscribe_group}
        if sending.groups_to_display:
            body["asm"]["groups_to_display"] = list(sending.groups_to_display)
    if options.sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    if options.send_at is not None:
        body["send_at"] = int(options.send_at.timestamp())
    if options.batch_id:
        body["batch_id"] = options.batch_id
    return body


def _personalization(
    address: str, name: str | None, config: Config, secret: TokenKeys | None
) -> dict:
    to = {"email": address}
    if name and (clean := _NAME_BREAKS.sub(" ", name).strip()):
        to["name"] = clean
    personalization: dict = {"to": [to]}
    headers = unsubscribe_headers(address, config, secret)
    if headers:
        personalization["headers"] = headers
    return personalization


def unsubscribe_secret(config: Config, environ: Mapping[str, str] = os.environ) -> TokenKeys | None:
    """The keys that sign `{token}`, when the headers will use one; MissingSecret when they
    will and the environment lacks the secret, so nothing goes out without a working link."""
    url = config.sending.one_click_url
    if config.email.unsubscribe_group or not url or TOKEN_PLACEHOLDER not in url:
        return None
    return signing_keys(config, environ)


def unsubscribe_headers(address: str, config: Config, secret: TokenKeys | None) -> dict[str, str]:
    """List-Unsubscribe (the https link first, then mailto) and, when the link is a one-click
    endpoint, List-Unsubscribe-Post.

    With an unsubscribe group SendGrid writes List-Unsubscribe itself, pointing at the group;
    a second header of ours would leave clients to pick one, so none is added. One-click
    (RFC 8058) needs an https URL that identifies the recipient by a signed {token}; without
    one, email.unsubscribe_url is listed, a page that asks the reader for more, so without
    the Post header."""
    sending = config.sending
    if config.email.unsubscribe_group:
        return {}
    one_click = sending.one_click_url
    signed = bool(one_click and secret and TOKEN_PLACEHOLDER in one_click)
    page = one_click_link(one_click, address, secret) if signed else config.email.unsubscribe_url
    links = [f"<{page}>"] if page else []
    if sending.unsubscribe_mailto:
        mailbox = email.utils.parseaddr(sending.unsubscribe_mailto)[1]
        links.append(f"<mailto:{mailbox}?subject=unsubscribe>")
    if not links:
        return {}
    headers = {"List-Unsubscribe": ", ".join(links)}
    if signed and urlsplit(one_click).scheme == "https":
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def issue_category(config: Config, issue_id: str) -> str:
    """The category that counts one issue of this newsletter in SendGrid's statistics:
    digest:LIST:ISSUE, LIST being sending.list_id or the newsletter's title as a slug, so two
    newsletters on one account never count each other's mail; a test send's ISSUE is `test`."""
    name = config.sending.list_id or config.newsletter.title
    slug = re.sub(r"[^a-z0-9]+", "-", normalise_heading(name)).strip("-") or "newsletter"
    return f"digest:{slug}:{issue_id}"


def categories(*names: str) -> list[str]:
    """The categories given: ASCII only, unique, at most 255 characters each."""
    found = []
    for category in names:
        ascii_only = one_line(category).encode("ascii", "ignore").decode()[:255].strip()
        if ascii_only and ascii_only not in found:
            found.append(ascii_only)
    return found


def one_line(value: str) -> str:
    """A header value: CR and LF removed, so no header can be smuggled in."""
    return _LINE_BREAKS.sub(" ", value).strip()


def address(mailbox: str) -> dict:
    """An address object of mail/send from "Name <address>"."""
    name, bare = email.utils.parseaddr(mailbox)
    result = {"email": bare}
    if name:
        result["name"] = one_line(name)
    return result
