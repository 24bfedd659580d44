"""A send for later: --schedule's time, within SendGrid's 72 hours, and cancelling a scheduled
send (or forgetting a started one that delivered nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.core.text import plural
from digest.delivery.ledger import Ledger
from digest.delivery.message import MAX_SCHEDULE_AHEAD


def schedule_time(text: str, config: Config, now: datetime) -> datetime:
    """'2026-11-27 08:00' in the newsletter's time zone, within SendGrid's 72 hours."""
    from zoneinfo import ZoneInfo

    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise DigestError(
            f"--schedule {text!r} is not a time", "write it as 'YYYY-MM-DD HH:MM'"
        ) from None
    when = naive.replace(tzinfo=ZoneInfo(config.newsletter.timezone))
    if not now < when <= now + MAX_SCHEDULE_AHEAD:
        raise DigestError(
            f"--schedule {text!r} is not within the next 72 hours",
            "SendGrid schedules at most 72 hours ahead; pick a later time than now",
        )
    return when


CANCEL_MARGIN = timedelta(minutes=10)  # SendGrid does not promise to stop a send later than this


def cancel_issue(ledger: Ledger, transport, issue_id: str, now: datetime) -> str:
    """Cancel a scheduled send, or forget one that delivered nothing; refuse anything else."""
    record = ledger.issue(issue_id)
    if record is None:
        raise DigestError(f"issue {issue_id} has no send to cancel", "digest status lists them")
    if record.status == "cancelled":
        return f"issue {issue_id} was already cancelled"
    if record.send_at and record.sendgrid_batch_id:
        send_at = datetime.fromisoformat(record.send_at)
        if send_at - now < CANCEL_MARGIN:
            raise DigestError(
                f"issue {issue_id} goes out at {record.send_at}: too late to cancel",
                "SendGrid needs at least 10 minutes' notice",
            )
        transport.cancel_batch(record.sendgrid_batch_id)
        ledger.cancel(issue_id, now)
        return f"cancelled the send of issue {issue_id} scheduled for {record.send_at}"
    batches = ledger.summaries(issue_id)
    accepted = [b for b in batches if b.status == "accepted"]
    maybe = [b.number for b in batches if b.status in ("unknown", "in_flight")]
    if accepted:
        raise DigestError(
            f"issue {issue_id} has already been delivered to {plural(len(accepted), 'batch')} "
            "of recipients",
            "a delivered email cannot be called back",
        )
    if maybe:
        numbers = ", ".join(map(str, maybe))
        raise DigestError(
            f"the send of issue {issue_id} cannot be forgotten: batches {numbers} may have been "
            "delivered (they were sent and no answer came)",
            f"look them up in SendGrid's activity feed by custom_args issue={issue_id} and "
            "batch; digest send --resume --accept-batch N records one that arrived, "
            "--retry-unknown sends the others again",
        )
    ledger.discard(issue_id)
    return (
        f"forgot the send of issue {issue_id}: SendGrid accepted none of its "
        f"{plural(len(batches), 'batch')} (each was refused or never sent), so nothing was "
        "delivered; it will be rebuilt"
    )
