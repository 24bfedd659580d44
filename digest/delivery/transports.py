"""SendGrid's v3 API as digest's transport; the outbox (digest.delivery.outbox) is the other, and
digest.delivery.connect picks one. Both take the request body digest built (one batch of
recipients) and either accept it, returning SendGrid's message id, or raise a failure that says
what a retry may do:

- `Retryable`: nothing was accepted, so sending again is safe. The request never left
  (connection refused), or SendGrid said it did not take it: 429 (rate limited), 503 (service
  unavailable: by HTTP's definition the server did not handle the request) and 408 (it did not
  receive the whole request);
- `Ambiguous`: the request was sent and SendGrid may have queued it. No answer came (timeout,
  dropped connection), or one that promises nothing: the specification of mail/send documents
  500 as "internal server error" and says nothing of whether the mail was queued, and 502/504
  come from a gateway whose upstream may have taken it. SendGrid has no idempotency key, so only
  an operator, looking the batch up in the activity feed, can decide;
- `Rejected` (a DigestError): 400/401/403/413 and the like. Sending again cannot help;
- `RejectedRecipients`: a 400 whose every error names a recipient's address
  (`personalizations.50.to.0.email: Does not contain a valid address`). Nothing was sent, and
  the same request without those recipients can go.

The API key is read from the environment (digest.delivery.connect) and held only by the client;
it is never printed, logged or written (the HTTP client's debug log, which shows headers, is
silenced).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from digest.core.errors import DigestError
from digest.core.text import fold

DEFAULT_HOST = "https://api.sendgrid.com"
MAX_ANSWER = 20_000_000  # bytes of a JSON answer digest reads; SendGrid's lists are far smaller
REJECTED_HINTS = {
    400: "SendGrid rejected the request; the errors above say which field",
    401: "check the API key in the environment variable named by sending.key_env",
    403: "verify the sender identity (newsletter.sender) in SendGrid, and the key's "
    "Mail Send permission",
    413: "the email is too large for SendGrid (30 MB); it should be far smaller",
}


class Retryable(Exception):
    """Not delivered; safe to send again, after `wait` seconds if SendGrid said so.
    `rate_limited`: SendGrid is well and asks for patience (429), which is no sign of an
    outage; every other Retryable is one (no connection, unavailable)."""

    def __init__(self, reason: str, wait: float | None = None, rate_limited: bool = False):
        reason = fold(reason)  # SendGrid's words: no control character reaches the ledger
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.rate_limited = rate_limited


class Ambiguous(Exception):
    """Sent, but no answer: it may have been delivered."""

    def __init__(self, reason: str):
        reason = fold(reason)
        super().__init__(reason)
        self.reason = reason


class Rejected(DigestError):
    """SendGrid refused the request; the same request will be refused again."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, status: int | None = None):
        super().__init__(message, hint)
        self.status = status


class ApiError(DigestError):
    """A request of digest's own to SendGrid's API (not mail/send) that failed or whose answer
    cannot be read. `status` is SendGrid's HTTP status when it answered with an error."""

    def __init__(self, message: str, hint: str, status: int | None = None):
        super().__init__(message, hint)
        self.status = status


class RejectedRecipients(Exception):
    """SendGrid refused the request for these recipients' addresses only: `reasons` maps the
    index of each one's personalization to SendGrid's words."""

    def __init__(self, reasons: dict[int, str]):
        super().__init__(f"{len(reasons)} recipients refused")
        self.reasons = reasons


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
        """A SendGrid batch id, which lets a scheduled send be cancelled. A batch id that was
        made but whose answer was lost is never used, which costs nothing."""
        answer = self._api("POST", "mail/batch")
        batch_id = answer.get("batch_id") if isinstance(answer, dict) else None
        if not isinstance(batch_id, str) or not batch_id.isascii() or not batch_id.isalnum():
            raise ApiError(
                "SendGrid's answer to POST /v3/mail/batch holds no batch id",
                "nothing was sent: run the send again in a few minutes",
            )
        return batch_id

    def cancel_batch(self, batch_id: str) -> None:
        """Cancel a scheduled send, however often asked: a batch already cancelled stays so, a
        paused one is changed to cancelled (SendGrid refuses a second POST for a batch)."""
        try:
            stops = self._api("GET", f"user/scheduled_sends/{batch_id}")
        except ApiError as exc:
            if exc.status != 404:  # 404: nothing paused or cancelled yet
                raise
            stops = []
        stops = stops if isinstance(stops, list) else []
        status = {stop.get("status") for stop in stops if isinstance(stop, dict)}
        if "cancel" in status:
            return
        if "pause" in status:
            self._api("PATCH", f"user/scheduled_sends/{batch_id}", {"status": "cancel"})
        else:
            self._api("POST", "user/scheduled_sends", {"batch_id": batch_id, "status": "cancel"})

    def get_json(self, path: str, params: Mapping[str, str | int]) -> object:
        """GET /v3/<path>, decoded; ApiError when it fails or cannot be read."""
        return self._api("GET", path, params=params)

    def _api(self, method: str, path: str, body: dict | None = None, params=None) -> object:
        """One request to /v3/<path> that is not mail/send, its answer decoded (None when it
        has none); every failure an ApiError naming the endpoint."""
        endpoint = self._client
        for part in path.strip("/").split("/"):
            endpoint = endpoint._(part)
        call = getattr(endpoint, method.lower())
        where = f"{method} /v3/{path}"
        kwargs = {"query_params": dict(params)} if params else {}
        if body is not None:
            kwargs["request_body"] = body
        try:
            response = self._call(lambda: call(**kwargs))
        except (Retryable, Ambiguous) as exc:
            raise ApiError(
                f"{where}: {exc.reason}",
                "SendGrid is busy or out of reach: try again in a few minutes",
            ) from None
        except Rejected as exc:
            hint = (
                "the API key lacks the permission (scope) for it: digest doctor lists what "
                "each feature needs"
                if exc.status == 403
                else exc.hint
            )
            raise ApiError(f"{where}: {exc.message}", hint, exc.status) from None
        return _json_answer(response.body, where)

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
            raise Retryable(reason) from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer (a timeout, a dropped connection): the
            # request was sent.
            reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            raise Ambiguous(f"no answer from SendGrid after sending ({reason})") from None


NOT_TAKEN = (408, 503)  # answers that say the request was not handled: safe to send again


# The field SendGrid names for a recipient's address: personalizations.50.to.0.email
RECIPIENT_FIELD = re.compile(r"personalizations\.(\d+)\.(?:to|cc|bcc)\.\d+\.email")


def _classify_http(exc, now: datetime) -> Exception:
    status = exc.status_code
    errors = _errors(exc)
    detail = _error_messages(errors)
    recipients = _refused_recipients(errors) if status == 400 else None
    if recipients:
        return RejectedRecipients(recipients)
    if status == 429:
        wait = _rate_limit_wait(exc.headers, now)
        return Retryable(f"HTTP 429 rate limited{detail}", wait, rate_limited=True)
    if status in NOT_TAKEN:
        return Retryable(f"HTTP {status}{detail}")
    if status >= 500:
        return Ambiguous(f"HTTP {status}{detail}; SendGrid may have queued it")
    hint = REJECTED_HINTS.get(status, "see SendGrid's message above")
    return Rejected(f"SendGrid answered HTTP {status}{detail}", hint, status)


def _json_answer(body: bytes | None, where: str) -> object:
    """An answer's JSON; ApiError for one too large or not JSON at all (a proxy's HTML page,
    a truncated body, nesting deep enough to exhaust the parser)."""
    if not body:
        return None
    if len(body) > MAX_ANSWER:
        raise ApiError(
            f"SendGrid's answer to {where} is {len(body):,} bytes, more than digest reads",
            "check sending.region and SENDGRID_API_HOST: that is no answer of SendGrid's",
        )
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        excerpt = fold(body[:80].decode("utf-8", "replace"))
        raise ApiError(
            f"SendGrid's answer to {where} is not JSON ({excerpt!r})",
            "check sending.region and SENDGRID_API_HOST, or try again in a few minutes",
        ) from None


def _errors(exc) -> list[dict]:
    """SendGrid's error objects from an answer's body; none when it has no readable ones."""
    try:
        errors = json.loads(exc.body)["errors"]
    except (ValueError, KeyError, TypeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_messages(errors: list[dict]) -> str:
    text = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
        for e in errors
    )
    return f": {text}" if text else ""


def _refused_recipients(errors: list[dict]) -> dict[int, str] | None:
    """Personalization index → SendGrid's reason, when every error is about an address."""
    found = [(RECIPIENT_FIELD.fullmatch(str(e.get("field"))), e) for e in errors]
    if not found or not all(match for match, _ in found):
        return None
    return {int(match[1]): fold(str(e.get("message"))) for match, e in found}


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
