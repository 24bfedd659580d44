"""One batch of a send, handed to the transport: its tries, the waits between them, and what each
outcome leaves in the ledger.

A try that cannot have been delivered (digest.delivery.transports.Retryable) is tried again
after a wait, within sending.max_attempts, sending.max_wait for one wait and
sending.batch_budget for all of them; one that may have been (Ambiguous) is left unknown at
once, for the operator. A refusal of some recipients' addresses takes them out of the batch
(and off the list) and sends the rest at once: one bad address never holds up the others.
Across batches, failed requests in a row (no connection, 5xx, no answer; a rate limit is no
failure) are counted: after sending.stop_after of them the send stops, so an outage costs a few
requests, not every batch's every try.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.ledger import Batch, Ledger
from digest.delivery.lock import SendLock
from digest.delivery.message import FrozenEmail, Options, mail_body
from digest.delivery.transports import Ambiguous, RejectedRecipients, Retryable

BACKOFF_BASE = 1.0  # seconds before the second try; doubles with each further one


@dataclass
class BatchSender:
    config: Config
    ledger: Ledger
    transport: object  # SendGridTransport or OutboxTransport
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    jitter: Callable[[], float] = random.random
    lock: SendLock | None = None  # checked before every request, when the send holds one
    # Why each request of the current run of failures failed, oldest first.
    failures: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """Too many failed requests in a row: the send should stop until the next run."""
        return len(self.failures) >= self.config.sending.stop_after

    def send(self, batch: Batch, content: FrozenEmail, options: Options) -> None:
        """Send one batch, trying again what cannot have been delivered and stopping at what
        might have. A refusal (a DigestError) is recorded on the batch and raised."""
        body = mail_body(content, batch.recipients, self.config, batch.issue, batch.number, options)
        sending, waited = self.config.sending, 0.0
        for attempt in range(1, sending.max_attempts + 1):
            self.ledger.mark(batch, "in_flight", self.clock(), fence=self.lock)
            try:
                accepted = self.transport.send(body)
            except Retryable as exc:
                self.ledger.mark(batch, "failed", self.clock(), exc.reason)
                self.failures = [] if exc.rate_limited else [*self.failures, exc.reason]
                wait = exc.wait if exc.wait is not None else self._backoff(attempt)
                last = attempt == sending.max_attempts
                too_long = wait > sending.max_wait or waited + wait > sending.batch_budget
                if last or too_long or self.stopped:
                    return
                self.sleep(wait)
                waited += wait
            except RejectedRecipients as exc:  # nothing sent: try again without them
                self.failures = []
                batch = self.ledger.reject(batch, exc.reasons, self.clock())
                if not batch.recipients:
                    self.ledger.accept(batch, None, self.clock())
                    return
                body = mail_body(
                    content, batch.recipients, self.config, batch.issue, batch.number, options
                )
            except Ambiguous as exc:
                self.ledger.mark(batch, "unknown", self.clock(), exc.reason)
                self.failures = [*self.failures, exc.reason]
                return
            except DigestError as exc:  # refused by SendGrid, or an outbox that cannot be written
                self.ledger.mark(batch, "failed", self.clock(), exc.message)
                raise
            else:
                self.failures = []
                self.ledger.accept(batch, accepted.message_id, self.clock())
                return

    def _backoff(self, attempt: int) -> float:
        """Exponential, with jitter so many senders do not retry in step."""
        return BACKOFF_BASE * 2 ** (attempt - 1) * (0.5 + self.jitter())
