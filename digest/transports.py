"""Where a mail/send request goes: SendGrid's v3 API, or an outbox folder on disk.

Both take the request body digest built (one batch of recipients) and either accept it,
returning SendGrid's message id, or raise one of three failures that say what a retry may do:

- `Retryable`: SendGrid answered 429 or 5xx, or the request never left (connection refused):
  nothing was delivered, so sending again is safe;
- `Ambiguous`: the request was sent and no answer came (timeout, dropped connection). SendGrid
  has no idempotency key, so it may or may not have been accepted; only an operator can decide;
- `Rejected` (a DigestError): 400/401/403/413 and the like. Sending again cannot help.

The API key is read from the environment by `make_transport` and held only by the client; it is
never printed, logged or written (the HTTP client's debug log, which shows headers, is silenced).
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import http.client
import itertools
import json
import logging
import os
import time
import urllib.error
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError

DEFAULT_HOST = "https://api.sendgrid.com"
HOST_VARIABLE = "SENDGRID_API_HOST"
REJECTED_HINTS = {
    400: "SendGrid rejected the request; the errors above say which field",
    401: "check the API key in the environment variable named by sending.key_env",
    403: "verify the sender identity (newsletter.sender) in SendGrid, and the key's "
    "Mail Send permission",
    413: "the email is too large for SendGrid (30 MB); it should be far smaller",
}


class Retryable(Exception):
    """Not delivered; safe to send again, after `wait` seconds if SendGrid said so."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class Ambiguous(Exception):
    """Sent, but no answer: it may have been delivered."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Rejected(DigestError):
    """SendGrid refused the request; the same request will be refused again."""

    exit_code = 2


@dataclass(frozen=True)
class Accepted:
    message_id: str | None


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = DEFAULT_HOST, timeout: float = 30.0):
        from sendgrid import SendGridAPIClient

        # python-http-client logs request headers, the key among them, at DEBUG.
        logging.getLogger("python_http_client").setLevel(logging.INFO)
        self._client = SendGridAPIClient(api_key, host=host.rstrip("/")).client
        self._client.timeout = timeout  # the client has no timeout of its own
        self.host = host

    def send(self, body: dict) -> Accepted:
        response = self._call(lambda: self._client.mail.send.post(request_body=body))
        return Accepted(response.headers.get("X-Message-Id"))

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
            raise _classify_http(exc) from None
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting and writing the request: it never
            # arrived whole, so SendGrid cannot have accepted it.
            raise Retryable(f"could not reach SendGrid ({exc.reason})") from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer (a timeout, a dropped connection): the
            # request was sent.
            reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            raise Ambiguous(f"no answer from SendGrid after sending ({reason})") from None


def _classify_http(exc) -> Exception:
    status = exc.status_code
    detail = _error_messages(exc)
    if status == 429:
        return Retryable(f"HTTP 429 rate limited{detail}", _rate_limit_wait(exc.headers))
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


def _rate_limit_wait(headers) -> float | None:
    """Seconds until SendGrid's rate limit resets: Retry-After if sent, else X-RateLimit-Reset
    (a unix time)."""
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return None


class OutboxTransport:
    """Writes each request as JSON and each message it would deliver as an .eml file
    (multipart/alternative, text first), so the whole flow runs with no SendGrid account."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder
        self._numbers = itertools.count(1)

    def send(self, body: dict) -> Accepted:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = body.get("custom_args", {})
        stem = f"{args.get('issue', 'test')}-batch{args.get('batch', '0')}-{uuid.uuid4().hex[:8]}"
        _write(self.folder / f"{stem}.json", json.dumps(body, indent=2, ensure_ascii=False))
        for n, personalization in enumerate(body["personalizations"], 1):
            message = _eml(body, personalization)
            _write(self.folder / f"{stem}-{n:04d}.eml", message.as_string())
        return Accepted(f"outbox-{stem}")

    def create_batch(self) -> str:
        return f"outbox-batch-{next(self._numbers)}"

    def cancel_batch(self, batch_id: str) -> None:
        _write(self.folder / f"cancelled-{batch_id}.txt", batch_id + "\n")


def _eml(body: dict, personalization: dict) -> email.message.EmailMessage:
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    sender = body["from"]
    message["From"] = email.utils.formataddr((sender.get("name", ""), sender["email"]))
    message["To"] = ", ".join(
        email.utils.formataddr((to.get("name", ""), to["email"])) for to in personalization["to"]
    )
    message["Subject"] = personalization.get("subject", body["subject"])
    if "reply_to" in body:
        message["Reply-To"] = body["reply_to"]["email"]
    for name, value in {**body.get("headers", {}), **personalization.get("headers", {})}.items():
        message[name] = value
    contents = {part["type"]: part["value"] for part in body["content"]}
    message.set_content(contents["text/plain"])
    message.add_alternative(contents["text/html"], subtype="html")
    return message


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def make_transport(config: Config, environ: Mapping[str, str] = os.environ):
    """SendGrid when the key's environment variable is set, else the outbox folder."""
    key = environ.get(config.sending.key_env, "").strip()
    if not key:
        return OutboxTransport(config.path.parent / config.sending.outbox)
    host = environ.get(HOST_VARIABLE, "").strip() or DEFAULT_HOST
    return SendGridTransport(key, host, config.sending.timeout)
