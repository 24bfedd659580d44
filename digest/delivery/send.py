"""`digest send`: this week's issue to every active subscriber, exactly once.

The flow, under the send lock:
1. the week's issue already sent (or cancelled)? Say so and stop;
2. not started? Build and render it, apply the policies (enough items, a weeknote), snapshot
   the active subscribers into batches and freeze the content: the ledger's `start`;
3. send every pending or failed batch (digest.delivery.batch), stopping after a run of failed
   requests; a batch left unknown by a timeout, a 500 or a killed process is recorded as
   accepted when listed in `accept_batches`, or sent again with `retry_unknown` once a run has
   reported it and an operator has checked SendGrid's activity feed for it (each message
   carries custom_args issue and batch). A refusal forgets the send only when no batch may
   have been delivered.

Nothing here reads the clock or sleeps directly: both are passed in, like the transport.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from digest.core.errors import DigestError
from digest.core.models import WEEKNOTE
from digest.core.settings import Config
from digest.core.text import plural
from digest.delivery.approval import Approval, Approvals
from digest.delivery.batch import BatchSender
from digest.delivery.dry_run import DryRun, approval_line, plan
from digest.delivery.ledger import SENDABLE, Batch, Ledger
from digest.delivery.lock import SendLock
from digest.delivery.message import FrozenEmail, Options, issue_category
from digest.delivery.transports import Rejected
from digest.email.render import RenderedEmail
from digest.email.size import CLIP_SIZE, SHRINK
from digest.sources.links import refuse_broken

if TYPE_CHECKING:
    from digest.pipeline import Preview


HELD_EXIT = 4  # the exit status of a send held by a policy: nothing sent, nothing marked


class SendPolicyError(DigestError):
    """A policy in feeds.yaml says not to send this week."""


@dataclass
class SendResult:
    issue_id: str
    outcome: str  # sent | already-sent | cancelled | skipped | scheduled | incomplete | held
    message: str
    batches: int = 0
    accepted: int = 0
    recipients: int = 0
    unknown: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the send stopped early: its run of failed requests
    rejected: int = 0  # recipients SendGrid refused, taken out of their batches

    @property
    def complete(self) -> bool:
        return self.outcome != "incomplete"


@dataclass(frozen=True)
class Ready:
    """A new send that passed every policy: what the ledger's `start` freezes."""

    issue: object  # digest.core.models.Issue
    content: FrozenEmail
    people: list[tuple[str, str | None]]


@dataclass
class Sender:
    """Everything a send needs, passed in: the config, ledger, transport, clock and sleep."""

    config: Config
    ledger: Ledger
    transport: object  # SendGridTransport or OutboxTransport
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    jitter: Callable[[], float] = random.random
    lock: SendLock | None = None  # the send lock, checked before every request
    link_check: Callable[[object], list] | None = None  # the issue's links, checked
    approvals: Approvals | None = None  # the editor's approvals; None: sends build afresh

    def send_issue(
        self,
        issue_id: str,
        build: Callable[[str], Preview],
        recipients: Callable[[], list[tuple[str, str | None]]],
        *,
        force: bool = False,
        resume_only: bool = False,
        retry_unknown: bool = False,
        accept_batches: frozenset[int] = frozenset(),
        send_at: datetime | None = None,
    ) -> SendResult:
        record = self.ledger.issue(issue_id)
        if record and record.status == "sent":
            message = f"issue {issue_id} was already sent on {record.sent_at}"
            return SendResult(issue_id, "already-sent", message)
        if record and record.status == "cancelled":
            message = f"issue {issue_id} was cancelled on {record.sent_at}; nothing sent"
            return SendResult(issue_id, "cancelled", message)
        if record is None:
            if resume_only:
                return SendResult(issue_id, "skipped", f"issue {issue_id} has no send to resume")
            started = self._start(issue_id, build, recipients, force, send_at)
            if started is not None:
                return started
        return self._deliver(issue_id, retry_unknown, accept_batches)

    def _start(self, issue_id, build, recipients, force, send_at) -> SendResult | None:
        ready = self._prepare(issue_id, build, recipients, force)
        if isinstance(ready, SendResult):
            if ready.outcome == "held" and self.approvals is not None:
                self.approvals.hold(issue_id, ready.message, self.clock())
            return ready
        batch_id = self.transport.create_batch() if send_at else None
        size, transport = self.config.sending.batch_size, self.transport
        where = (transport.name, transport.destination)
        category = issue_category(self.config, issue_id)
        self.ledger.start(
            ready.issue,
            ready.content,
            ready.people,
            size,
            self.clock(),
            where,
            send_at,
            batch_id,
            category,
        )
        return None

    def _prepare(self, issue_id, build, recipients, force) -> SendResult | Ready:
        """The approved issue, or one built now, and every policy a new send obeys, writing
        nothing: a skip or a hold comes back as a SendResult, a refusal is raised
        (SendPolicyError, BrokenLinksError)."""
        approval = self.approvals.get(issue_id) if self.approvals else None
        if approval is None and self.config.sending.approval == "required":
            return SendResult(issue_id, "held", _held(issue_id, "nothing is approved"))
        if approval is not None:
            issue, rendered = approval.issue, approved_email(approval)
        else:
            preview = build(issue_id)
            issue, rendered = preview.issue, preview.email
            weeknote = self.config.weeknote
            if issue.stale_since and weeknote and weeknote.stale == "hold":
                why = f"its weeknote is the one sent in issue {issue.stale_since}"
                return SendResult(issue_id, "held", _held(issue_id, why))
        shown = issue.counts()["shown"]
        if shown < self.config.sending.min_items:
            return SendResult(
                issue_id,
                "skipped",
                f"issue {issue_id} has {shown} items, fewer than sending.min_items "
                f"({self.config.sending.min_items}): nothing sent this week",
            )
        _check_weeknote(issue, self.config, force)
        if rendered.size > CLIP_SIZE and not force:
            raise SendPolicyError(
                f"the email is {rendered.size:,} bytes as Gmail would get it, over the "
                f"{CLIP_SIZE:,} at which Gmail clips it and hides the footer's unsubscribe link "
                "and postal address, even with items moved to the archive",
                f"{SHRINK}; or send it clipped: --force",
            )
        email = self.config.email
        if not (email.unsubscribe_group or email.unsubscribe_url):
            raise SendPolicyError(
                "the email has no unsubscribe link, so it was not sent to subscribers",
                "set email.unsubscribe_group (SendGrid) or email.unsubscribe_url in feeds.yaml",
            )
        if self.link_check is not None:
            results = self.link_check(issue)
            if not force:
                refuse_broken(results, self.config)
        people = recipients()
        if not people:
            raise SendPolicyError(
                "there are no active subscribers", "add some with digest subscribers add/import"
            )
        content = FrozenEmail(rendered.subject, rendered.html, rendered.text)
        return Ready(issue, content, people)

    def dry_run(
        self,
        issue_id: str,
        build: Callable[[str], Preview],
        recipients: Callable[[], list[tuple[str, str | None]]],
        *,
        force: bool = False,
        resume_only: bool = False,
    ) -> DryRun:
        """What send_issue with the same arguments would do, decided the same way (sent or
        cancelled already, nothing to resume, a skip, a refusal, a resumed or a new send),
        and nothing sent or written to the ledger."""
        record = self.ledger.issue(issue_id)
        if record is not None and record.status != "sending":
            outcome = "already-sent" if record.status == "sent" else "cancelled"
            verb = "sent" if record.status == "sent" else "cancelled"
            return DryRun(outcome, f"issue {issue_id} was already {verb} on {record.sent_at}")
        if record is not None:
            return self._dry_resume(record)
        if resume_only:
            return DryRun("skipped", f"issue {issue_id} has no send to resume")
        try:
            ready = self._prepare(issue_id, build, recipients, force)
        except DigestError as refusal:
            return DryRun("refused", refusal.message, refusal.hint, exit_code=refusal.exit_code)
        if isinstance(ready, SendResult):
            held = ready.outcome == "held"
            return DryRun(ready.outcome, ready.message, exit_code=HELD_EXIT if held else 0)
        approval = self.approvals.get(issue_id) if self.approvals else None
        state = approval_line(approval) if approval else "a new send, built now (not approved)"
        lines = plan(self.config, ready.content, len(ready.people), self.transport, state)
        return DryRun("send", f"issue {issue_id} would be sent", plan=lines)

    def _dry_resume(self, record) -> DryRun:
        try:
            _check_same_transport(record, self.transport)
        except DigestError as refusal:
            return DryRun("refused", refusal.message, refusal.hint, exit_code=refusal.exit_code)
        left = [b for b in self.ledger.summaries(record.id) if b.status != "accepted"]
        people = sum(b.recipients for b in left)
        state = f"resuming a send started {record.started_at}: {plural(len(left), 'batch')} left"
        lines = plan(self.config, record.email, people, self.transport, state, len(left))
        return DryRun("resume", f"issue {record.id} would be resumed", plan=lines)

    def _deliver(
        self, issue_id: str, retry_unknown: bool, accept_batches: frozenset[int]
    ) -> SendResult:
        record = self.ledger.issue(issue_id)
        _check_same_transport(record, self.transport)
        self.ledger.in_flight_to_unknown(issue_id, self.clock())
        options = Options(
            send_at=record.send_at and datetime.fromisoformat(record.send_at),
            batch_id=record.sendgrid_batch_id,
            category=record.category,
        )
        sender = BatchSender(
            self.config, self.ledger, self.transport, self.clock, self.sleep, self.jitter, self.lock
        )
        if accept_batches:  # the operator's word on batches left unknown
            for batch in self.ledger.batches(issue_id):
                if batch.status == "unknown" and batch.number in accept_batches:
                    self.ledger.accept(batch, batch.message_id, self.clock())
        batches = self.ledger.batches(issue_id)
        todo = [b for b in batches if b.status in SENDABLE or (retry_unknown and _told(b))]
        try:
            sender.send_all(todo, record.email, options)
        except DigestError as exc:
            raise self._stopped_by(exc, issue_id) from None
        return self._result(issue_id, sender.failures if sender.stopped else [])

    def _stopped_by(self, exc: DigestError, issue_id: str) -> DigestError:
        """The error that stopped a send, with what the operator must know of the batches it
        leaves. A refused send is forgotten only when no batch may have been delivered."""
        if isinstance(exc, Rejected) and self.ledger.discard(issue_id):
            return exc
        unknown = self.ledger.report_unknown(issue_id)
        if unknown:
            exc.add_note(_unknown_line(issue_id, unknown))
        return exc

    def _result(self, issue_id: str, failures: list[str]) -> SendResult:
        """What the send achieved; the unknown batches it names count as told to the operator
        from now on, so --retry-unknown may send them again."""
        record = self.ledger.issue(issue_id)
        batches = self.ledger.summaries(issue_id)
        result = SendResult(
            issue_id,
            "incomplete",
            "",
            batches=len(batches),
            accepted=sum(b.status == "accepted" for b in batches),
            recipients=sum(b.recipients for b in batches),
            unknown=self.ledger.report_unknown(issue_id),
            failed=[b.number for b in batches if b.status in SENDABLE],
            stopped=f"{failures[-1]}, {len(failures)} times in a row" if failures else None,
            rejected=sum(len(b.rejected) for b in batches),
        )
        if record.status == "sent":
            result.outcome = "scheduled" if record.send_at else "sent"
            when = f" for {record.send_at}" if record.send_at else ""
            result.message = (
                f"issue {issue_id} {result.outcome}{when}: "
                f"{plural(result.recipients, 'recipient')} in {plural(result.batches, 'batch')}; "
                f"{self.transport.delivered(result.recipients)}"
            )
        else:
            result.message = _incomplete_message(issue_id, result)
        if result.rejected:
            result.message += (
                f"; SendGrid refused {plural(result.rejected, 'address')}, now "
                "marked rejected: digest subscribers list --status rejected shows them"
            )
        return result


def _incomplete_message(issue_id: str, result: SendResult) -> str:
    parts = [f"issue {issue_id}: {result.accepted} of {plural(result.batches, 'batch')} accepted"]
    if result.stopped:
        parts.append(
            f"stopped: {result.stopped}; nothing was sent twice: run digest send again once "
            "SendGrid answers, to send the rest"
        )
    elif result.failed:
        parts.append(
            f"batches {_numbers(result.failed)} not delivered (SendGrid busy or unreachable); "
            "run digest send again to retry them"
        )
    if result.unknown:
        parts.append(_unknown_line(issue_id, result.unknown))
    return "; ".join(parts)


def _held(issue_id: str, why: str) -> str:
    return (
        f"issue {issue_id} is held: {why}; nothing was sent. Approve it when it is right "
        f"(digest approve --issue {issue_id}, or the Approve button of digest preview --serve), "
        "and the next digest send sends it"
    )


def approved_email(approval: Approval) -> RenderedEmail:
    """The approved email as a send sends it, byte for byte."""
    size = len(approval.html.encode("utf-8"))
    return RenderedEmail(
        approval.subject, approval.preheader, "", approval.html, approval.text, size=size
    )


def _unknown_line(issue_id: str, numbers: list[int]) -> str:
    return (
        f"batches {_numbers(numbers)} unknown (sent, but no answer came): look them up in "
        f"SendGrid's activity feed by custom_args issue={issue_id} and batch, then run digest "
        "send --resume with --accept-batch N for each that arrived, and --retry-unknown to send "
        "the others again"
    )


def _told(batch: Batch) -> bool:
    """An unknown batch a run has reported to the operator: only those may be sent again."""
    return batch.status == "unknown" and batch.reported


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _check_same_transport(record, transport) -> None:
    """A send started through one transport is finished through it: the rest of the list must
    not be emailed after the first batches went to the outbox, or the other way round."""
    if record.transport and record.transport != transport.name:
        raise DigestError(
            f"issue {record.id} was started through the {record.transport} transport "
            f"({record.destination}), not {transport.name}",
            f"finish it with sending.transport: {record.transport}, or forget it with "
            f"digest cancel {record.id} if nothing was delivered",
        )


def _check_weeknote(issue, config: Config, force: bool) -> None:
    if config.weeknote is None or not config.sending.require_weeknote or force:
        return
    weeknote = next((s for s in issue.sources if s.name == WEEKNOTE), None)
    if weeknote is None or weeknote.status in ("error", "never") or not issue.weeknote_url:
        reason = weeknote.error if weeknote and weeknote.error else _weeknote_warning(issue)
        raise SendPolicyError(
            f"the weeknote could not be fetched ({reason}), so issue {issue.id} was not sent",
            "fix the weeknote source and run digest send again, or send without it: --force",
        )


def _weeknote_warning(issue) -> str:
    """Why the build found no weeknote page (its blog feed failed, no post matched), as the
    build's warning says; a page never fetched when it says nothing."""
    prefix = "weeknote: "
    said = (w.removeprefix(prefix) for w in issue.warnings if w.startswith(prefix))
    return next(said, "it has not been fetched")
