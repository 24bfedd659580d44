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

import contextlib
import queue
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.core.store import Store
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
    # Why each request of the current run of failures failed, oldest first, across workers.
    _failures: list[str] = field(default_factory=list, init=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False)
    # Cleared while a worker waits out a rate limit: every other worker waits for it too.
    _resume: threading.Event = field(default_factory=threading.Event, init=False)
    _pausing: int = field(default=0, init=False)  # workers waiting out a rate limit
    _halt: bool = field(default=False, init=False)  # interrupted: take no further batch
    _answering: threading.Event = field(default_factory=threading.Event, init=False)
    _alone: threading.Lock = field(default_factory=threading.Lock, init=False)  # see _turn

    def __post_init__(self) -> None:
        self._resume.set()

    @property
    def failures(self) -> list[str]:
        with self._guard:
            return list(self._failures)

    @property
    def stopped(self) -> bool:
        """Too many failed requests in a row: the send should stop until the next run."""
        return len(self.failures) >= self.config.sending.stop_after

    def send_all(self, batches: list[Batch], content: FrozenEmail, options: Options) -> None:
        """Send `batches`, sending.parallel of them at once, each worker on its own connection
        to the state database. No batch is taken once too many requests failed in a row or
        one was refused; the first refusal is raised when those in flight are settled."""
        if not batches:
            return
        todo: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        for batch in batches:
            todo.put(batch)
        refusals: list[DigestError] = []
        workers = min(self.config.sending.parallel, len(batches))
        with ThreadPoolExecutor(workers, thread_name_prefix="batch") as pool:
            running = [
                pool.submit(self._work, todo, content, options, refusals) for _ in range(workers)
            ]
            try:
                for worker in running:
                    worker.result()
            except BaseException:  # Ctrl-C, or a bug: settle what is in flight, then stop
                self._halt = True
                raise
        if refusals:
            raise refusals[0]

    def _work(self, todo, content: FrozenEmail, options: Options, refusals: list) -> None:
        with Store.open(self.ledger.store.path) as store:
            ledger = Ledger(store)
            while not (self._halt or refusals or self.stopped):
                try:
                    batch = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self.send(ledger, batch, content, options)
                except DigestError as exc:
                    refusals.append(exc)

    def send(self, ledger: Ledger, batch: Batch, content: FrozenEmail, options: Options) -> None:
        """Send one batch, trying again what cannot have been delivered and stopping at what
        might have. A refusal (a DigestError) is recorded on the batch and raised."""
        body = mail_body(content, batch.recipients, self.config, batch.issue, batch.number, options)
        sending, waited = self.config.sending, 0.0
        for attempt in range(1, sending.max_attempts + 1):
            with self._turn():
                self._resume.wait()  # not while a worker waits out a rate limit
                if self.stopped:
                    return
                outcome = self._request(ledger, batch, body)
            if outcome is None:
                return
            if isinstance(outcome, Batch):  # nothing went: again at once, without the refused
                batch = outcome
                if not batch.recipients:
                    ledger.accept(batch, None, self.clock())
                    return
                body = mail_body(
                    content, batch.recipients, self.config, batch.issue, batch.number, options
                )
                continue
            try:
                wait = outcome.wait if outcome.wait is not None else self._backoff(attempt)
                last = attempt == sending.max_attempts
                too_long = wait > sending.max_wait or waited + wait > sending.batch_budget
                if last or too_long or self.stopped:
                    return
                self.sleep(wait)
                waited += wait
            finally:
                if outcome.rate_limited:
                    self._pause(-1)

    def _request(self, ledger: Ledger, batch: Batch, body: dict) -> Retryable | Batch | None:
        """One request for `batch`, recorded before and after: None once it is settled
        (accepted, or unknown), the batch without its refused recipients when SendGrid refused
        only some addresses, the Retryable when it may be tried again."""
        ledger.mark(batch, "in_flight", self.clock(), fence=self.lock)
        try:
            accepted = self.transport.send(body)
        except Retryable as exc:
            ledger.mark(batch, "failed", self.clock(), exc.reason)
            self._count(None if exc.rate_limited else exc.reason)
            if exc.rate_limited:
                self._pause(+1)  # before this worker's turn ends: nobody slips in
            return exc
        except RejectedRecipients as exc:
            self._count(None)
            return ledger.reject(batch, exc.reasons, self.clock())
        except Ambiguous as exc:
            ledger.mark(batch, "unknown", self.clock(), exc.reason)
            self._count(exc.reason)
            return None
        except DigestError as exc:  # refused by SendGrid, or an outbox that cannot be written
            ledger.mark(batch, "failed", self.clock(), exc.message)
            raise
        self._count(None)
        ledger.accept(batch, accepted.message_id, self.clock())
        return None

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """A request's turn. Requests go one at a time at the start of a send and after a
        failure, until one is answered: a SendGrid that is down costs sending.stop_after
        requests, not that many per worker. While SendGrid answers, they go side by side."""
        if self._answering.is_set():
            yield
            return
        with self._alone:
            yield

    def _pause(self, step: int) -> None:
        """One more (+1) or one fewer (-1) worker waiting out a rate limit; the others wait
        while any does."""
        with self._guard:
            self._pausing += step
            if self._pausing:
                self._resume.clear()
            else:
                self._resume.set()

    def _count(self, failure: str | None) -> None:
        """One more failed request in the run, or (None) an answer that ends the run."""
        with self._guard:
            self._failures = [*self._failures, failure] if failure else []
            if failure:
                self._answering.clear()
            else:
                self._answering.set()

    def _backoff(self, attempt: int) -> float:
        """Exponential, with jitter so many senders do not retry in step."""
        return BACKOFF_BASE * 2 ** (attempt - 1) * (0.5 + self.jitter())
