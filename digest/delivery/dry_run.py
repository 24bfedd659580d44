"""What `digest send --dry-run` says: the decision the real send would take, and for a send what
would go out and where."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.core.settings import Config
from digest.core.text import plural
from digest.delivery.approval import Approval
from digest.delivery.message import FrozenEmail
from digest.email.size import sent_size


@dataclass(frozen=True)
class DryRun:
    """The decision `digest send --dry-run` reports: the outcome the real send would have
    (send | resume | skipped | held | already-sent | cancelled | refused), why, and for a send what
    would go out."""

    outcome: str
    message: str
    hint: str = ""
    plan: list[str] = field(default_factory=list)
    exit_code: int = 0  # the real send's exit status for a refusal or a hold

    def lines(self) -> list[str]:
        verdict = f"send would refuse: {self.message}" if self.outcome == "refused" else None
        hint = [f"Hint: {self.hint}"] if self.hint else []
        return [*self.plan, f"Decision:   {verdict or self.message}", *hint, NOTHING_SENT]


NOTHING_SENT = "Nothing was sent (--dry-run)."


def approval_line(approval: Approval) -> str:
    return (
        f"approved by {approval.approved_by} on {approval.approved_at} "
        f"(sha256 {approval.hash[:12]})"
    )


def plan(
    config: Config, content: FrozenEmail, people: int, transport, state: str, batches: int = 0
) -> list[str]:
    """What `digest send --dry-run` prints of a send it would make: what would go out, where.
    `batches` are those a started send has left; a new one splits `people` by batch_size."""
    size = config.sending.batch_size
    split = (
        plural(batches, "batch")
        if batches
        else f"{plural(-(-people // size), 'batch')} of at most {size}"
    )
    return [
        f"Subject:    {content.subject}",
        f"Recipients: {people} in {split}",
        f"Transport:  {transport.name} ({transport.destination})",
        f"State:      {state}",
        f"Size:       {len(content.html.encode()) / 1000:.1f} KB HTML "
        f"({sent_size(content.html, config.sending.tracking) / 1000:.1f} KB as Gmail gets it), "
        f"{len(content.text.encode()) / 1000:.1f} KB text",
    ]
