"""Sends the ledger never hears of: a test to the editor's own addresses, and every batch of
the real send into SendGrid's sandbox or the outbox folder as a rehearsal."""

from __future__ import annotations

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.message import (
    FrozenEmail,
    Options,
    categories,
    issue_category,
    mail_body,
)
from digest.delivery.transports import Ambiguous, Retryable


def send_test(
    transport, config: Config, content: FrozenEmail, issue_id: str, addresses: list[str], sandbox
) -> str | None:
    """The issue to `addresses` only, subject marked [TEST]; no ledger, no subscribers. Returns
    the transport's message id."""
    options = Options(sandbox=sandbox, subject_prefix="[TEST] ")
    body = mail_body(content, [(a, None) for a in addresses], config, issue_id, 0, options)
    body["custom_args"]["batch"] = "test"
    # Its own category: a test counted in the issue's statistics would read as readers' opens.
    body["categories"] = categories(issue_category(config, "test"), config.sending.category)
    return _send_once(transport, body, "the test send").message_id


def send_unrecorded(
    transport, config: Config, content: FrozenEmail, issue_id: str, people: list, sandbox: bool
) -> int:
    """Every batch of the real send, recorded nowhere: a rehearsal into an outbox folder, or
    SendGrid's sandbox mode, where each request is checked and nothing is delivered. Returns
    the number of batches."""
    size = config.sending.batch_size
    batches = [people[start : start + size] for start in range(0, len(people), size)]
    for number, batch in enumerate(batches, 1):
        body = mail_body(content, batch, config, issue_id, number, Options(sandbox=sandbox))
        _send_once(transport, body, f"batch {number}")
    return len(batches)


def _send_once(transport, body: dict, what: str):
    try:
        return transport.send(body)
    except (Retryable, Ambiguous) as exc:
        raise DigestError(f"{what} failed: {exc.reason}", "try again in a minute") from None
