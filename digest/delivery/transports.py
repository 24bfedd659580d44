"""Where a mail/send request goes: SendGrid's v3 API, or an outbox folder on disk, as
`sending.transport` says. Nothing switches between them on its own: without its key, the
SendGrid transport is an error, never the outbox.

Both take the request body digest built (one batch of recipients) and either accept it,
returning SendGrid's message id, or raise one of three failures that say what a retry may do:

- `Retryable`: SendGrid answered 429 or 5xx, or the request never left (connection refused):
  nothing was delivered, so sending again is safe;
- `Ambiguous`: the request was sent and no answer came (timeout, dropped connection). SendGrid
  has no idempotency key, so it may or may not have been accepted; only an operator can decide;
- `Rejected` (a DigestError): 400/401/403/413 and the like. Sending again cannot help.

The outbox writes a batch whole or not at all; when it cannot, it raises `OutboxError`.

The API key is read from the environment by `make_transport` and held only by the client; it is
never printed, logged or written (the HTTP client's debug log, which shows headers, is silenced).
"""

from __future__ import annotations

import email.header
import email.message
import email.policy
import email.utils
import http.client
import itertools
import json
import logging
import os
import urllib.error
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.core.errors import DigestError
from digest.core.files import write_files
from digest.core.settings import Config
from digest.core.text import fold

DEFAULT_HOST = "https://api.sendgrid.com"
FOLD_AT = 78  # RFC 5322's recommended line length; a longer word stays whole (up to 998)
HOST_VARIABLE = "SENDGRID_API_HOST"
REJECTED_HINTS = {
    400: "SendGrid rejected the request; the errors above say which field",
    401: "check the API key in the environment variable named by sending.key_env",
    403: "verify the sender identity (newsletter.sender) in SendGrid, and the key's "
    "Mail Send permission",
    413: "the email is too large for SendGrid (30 MB); it should be far smaller",
}


class Retryable(Exception):
    """Not delivered; safe to send again, after `wait` seconds if SendGrid said so.
    `unreachable`: no connection could be made at all (as opposed to SendGrid answering that
    it is busy)."""

    def __init__(self, reason: str, wait: float | None = None, unreachable: bool = False):
        reason = fold(reason)  # SendGrid's words: no control character reaches the ledger
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.unreachable = unreachable


class Ambiguous(Exception):
    """Sent, but no answer: it may have been delivered."""

    def __init__(self, reason: str):
        reason = fold(reason)
        super().__init__(reason)
        self.reason = reason


class Rejected(DigestError):
    """SendGrid refused the request; the same request will be refused again."""

    exit_code = 2


class MissingKey(DigestError):
    """The SendGrid transport has no API key: nothing can be sent, and nothing is recorded."""

    exit_code = 2


class OutboxError(DigestError):
    """The outbox folder cannot be written; nothing of the batch was left in it."""

    hint = (
        "free some disk space or make the folder writable (sending.outbox), then run the "
        "command again"
    )


@dataclass(frozen=True)
class Accepted:
    message_id: str | None


class SendGridTransport:
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        host: str = DEFAULT_HOST,
        timeout: float = 30.0,
        *,
        clock: Callable[[], datetime],
    ):
        from sendgrid import SendGridAPIClient

        # python-http-client logs request headers, the key among them, at DEBUG.
        logging.getLogger("python_http_client").setLevel(logging.INFO)
        self._client = SendGridAPIClient(api_key, host=host.rstrip("/")).client
        self._client.timeout = timeout  # the client has no timeout of its own
        self.host = host
        self.destination = host
        self.clock = clock  # SendGrid's rate limit resets at a time of day

    @staticmethod
    def delivered(messages: int) -> str:
        return f"{messages} messages accepted by SendGrid"

    def send(self, body: dict) -> Accepted:
        response = self._call(lambda: self._client.mail.send.post(request_body=body))
        return Accepted(fold(response.headers.get("X-Message-Id") or "") or None)

    def create_batch(self) -> str:
        """A SendGrid batch id, which lets a scheduled send be cancelled."""
        response = self._call(lambda: self._client.mail.batch.post())
        return json.loads(response.body)["batch_id"]

    def cancel_batch(self, batch_id: str) -> None:
        body = {"batch_id": batch_id, "status": "cancel"}
        self._call(lambda: self._client.user.scheduled_sends.post(request_body=body))

    def get_json(self, path: str, params: Mapping[str, str | int]) -> object:
        """GET /v3/<path> and decode the answer (for the suppression lists)."""
        endpoint = self._client
        for part in path.strip("/").split("/"):
            endpoint = endpoint._(part)
        response = self._call(lambda: endpoint.get(query_params=dict(params)))
        return json.loads(response.body or b"null")

    def _call(self, request):
        from python_http_client.exceptions import HTTPError

        try:
            return request()
        except HTTPError as exc:
            raise _classify_http(exc, self.clock()) from None
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting and writing the request: it never
            # arrived whole, so SendGrid cannot have accepted it.
            reason = f"could not reach SendGrid at {self.host} ({exc.reason})"
            raise Retryable(reason, unreachable=True) from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer (a timeout, a dropped connection): the
            # request was sent.
            reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            raise Ambiguous(f"no answer from SendGrid after sending ({reason})") from None


def _classify_http(exc, now: datetime) -> Exception:
    status = exc.status_code
    detail = _error_messages(exc)
    if status == 429:
        return Retryable(f"HTTP 429 rate limited{detail}", _rate_limit_wait(exc.headers, now))
    if status >= 500 or status == 408:
        return Retryable(f"HTTP {status}{detail}")
    hint = REJECTED_HINTS.get(status, "see SendGrid's message above")
    return Rejected(f"SendGrid answered HTTP {status}{detail}", hint)


def _error_messages(exc) -> str:
    try:
        errors = json.loads(exc.body)["errors"]
        text = "; ".join(
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
        )
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {text}" if text else ""


def _rate_limit_wait(headers, now: datetime) -> float | None:
    """Seconds from `now` until SendGrid's rate limit resets: Retry-After if sent, else
    X-RateLimit-Reset (a unix time)."""
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if reset.isdigit():
        return max(0.0, int(reset) - now.timestamp())
    return None


class OutboxTransport:
    """Writes each request as JSON and each message it would deliver as an .eml file
    (multipart/alternative, text first), so the whole flow runs with no SendGrid account."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder
        self.destination = str(folder)
        self._numbers = itertools.count(1)

    def delivered(self, messages: int) -> str:
        return f"{messages} messages written to {self.folder}/ (nothing was emailed)"

    def send(self, body: dict) -> Accepted:
        args = body.get("custom_args", {})
        stem = f"{args.get('issue', 'test')}-batch{args.get('batch', '0')}-{uuid.uuid4().hex[:8]}"
        request = json.dumps(body, indent=2, ensure_ascii=False)
        messages = (
            (f"{stem}-{n:04d}.eml", _eml(body, personalization).as_string())
            for n, personalization in enumerate(body["personalizations"], 1)
        )
        self._write_all([(f"{stem}.json", request), *messages])
        return Accepted(f"outbox-{stem}")

    def create_batch(self) -> str:
        return f"outbox-batch-{next(self._numbers)}"

    def cancel_batch(self, batch_id: str) -> None:
        self._write_all([(f"cancelled-{batch_id}.txt", batch_id + "\n")])

    def _write_all(self, files: Iterable[tuple[str, str]]) -> None:
        """Every file or none, none of them half-written (digest.core.files.write_files)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_files({self.folder / name: text for name, text in files})
        except OSError as exc:
            where = exc.filename or self.folder
            raise OutboxError(f"cannot write the outbox: {where}: {exc.strerror}") from None


def _eml(body: dict, personalization: dict) -> email.message.EmailMessage:
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    sender = body["from"]
    message["From"] = email.utils.formataddr((sender.get("name", ""), sender["email"]))
    message["To"] = ", ".join(
        email.utils.formataddr((to.get("name", ""), to["email"])) for to in personalization["to"]
    )
    message["Subject"] = WrittenHeader("Subject", personalization.get("subject", body["subject"]))
    if "reply_to" in body:
        message["Reply-To"] = body["reply_to"]["email"]
    for name, value in {**body.get("headers", {}), **personalization.get("headers", {})}.items():
        message[name] = WrittenHeader(name, value)
    contents = {part["type"]: part["value"] for part in body["content"]}
    message.set_content(contents["text/plain"])
    message.add_alternative(contents["text/html"], subtype="html")
    return message


class WrittenHeader(str):
    """A header value the email package writes as folded here instead of refolding it itself.

    Its own folder turns a long URL into RFC 2047 encoded words, which List-Unsubscribe must
    not carry (clients read the <URL> in it literally), and before a non-ASCII word it can
    write an empty encoded word (=?utf-8?q??=). Here an ASCII value is only folded at spaces,
    and any other is encoded whole by the older `email.header` encoder, which does neither.
    The email package keeps any value with a `name` and a `fold()` as it is."""

    name: str

    def __new__(cls, name: str, value: str):
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy) -> str:
        if not self.isascii():
            encoded = email.header.Header(str(self), "utf-8", header_name=self.name)
            return f"{self.name}: {encoded.encode(linesep=policy.linesep)}{policy.linesep}"
        lines, words = [], str(self).split(" ")
        line = f"{self.name}: {words[0]}"
        for word in words[1:]:
            # A folded line may not be only white space, so a run of spaces is never split.
            if word and len(line) + 1 + len(word) > FOLD_AT and line.strip():
                lines.append(line)
                line = ""
            line += " " + word
        return policy.linesep.join([*lines, line.rstrip()]) + policy.linesep


def make_transport(
    config: Config,
    clock: Callable[[], datetime],
    outbox: Path | None = None,
    environ: Mapping[str, str] = os.environ,
):
    """The transport `sending.transport` names; `outbox` writes to that folder instead."""
    if outbox is not None:
        return OutboxTransport(outbox)
    if config.sending.transport == "outbox":
        return OutboxTransport(config.path.parent / config.sending.outbox)
    return sendgrid_transport(config, clock, environ)


def sendgrid_transport(
    config: Config, clock: Callable[[], datetime], environ: Mapping[str, str] = os.environ
) -> SendGridTransport:
    """SendGrid's API with the key from the environment variable sending.key_env names."""
    variable = config.sending.key_env
    key = environ.get(variable, "").strip()
    if not key:
        raise MissingKey(
            f"{variable} is not set",
            f"export {variable} with a SendGrid API key (never in feeds.yaml), or set "
            "sending.transport: outbox to write the messages to a folder instead",
        )
    host = environ.get(HOST_VARIABLE, "").strip() or DEFAULT_HOST
    return SendGridTransport(key, host, config.sending.timeout, clock=clock)
